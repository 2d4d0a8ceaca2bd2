#include "core/bounded_table.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <list>
#include <new>
#include <random>
#include <unordered_map>

#include "core/admission_gate.h"

// Counts heap allocations made anywhere in this test binary, so a test can prove a loop makes none.
namespace {
std::atomic<long> g_allocations{0};
}  // namespace

#if defined(__GNUC__) && !defined(__clang__)
// GCC cannot see that these delete operators pair with the malloc-based new above.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void* operator new(std::size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace stockgate::core {
namespace {

// Entries are found again after insertion and a second insert of the key finds the first.
TEST(BoundedTableTest, InsertAndFind) {
  BoundedTable<int> t(4);
  EXPECT_EQ(t.Find(7), nullptr);
  auto s = t.FindOrInsert(7, 70);
  EXPECT_TRUE(s.inserted);
  EXPECT_FALSE(s.evicted);
  *s.value += 1;
  auto again = t.FindOrInsert(7, 0);
  EXPECT_FALSE(again.inserted);
  EXPECT_EQ(*again.value, 71);
  ASSERT_NE(t.Find(7), nullptr);
  EXPECT_EQ(t.size(), 1u);
}

// When full, the least recently used entry goes, and a lookup counts as a use.
TEST(BoundedTableTest, EvictsLeastRecentlyUsed) {
  BoundedTable<int> t(3);
  t.FindOrInsert(1, 1);
  t.FindOrInsert(2, 2);
  t.FindOrInsert(3, 3);
  t.Find(1);  // 2 is now the oldest
  auto s = t.FindOrInsert(4, 4);
  EXPECT_TRUE(s.evicted);
  EXPECT_EQ(t.Find(2), nullptr);
  EXPECT_NE(t.Find(1), nullptr);
  EXPECT_NE(t.Find(3), nullptr);
  EXPECT_NE(t.Find(4), nullptr);
  EXPECT_EQ(t.size(), 3u);
  EXPECT_EQ(t.evictions(), 1u);
}

// Under heavy churn with colliding keys the table agrees with a reference LRU after every step
// (this exercises the backward-shift deletion in the index).
TEST(BoundedTableTest, MatchesReferenceLruUnderChurn) {
  constexpr std::uint32_t kCapacity = 37;
  BoundedTable<std::uint64_t> t(kCapacity);
  std::list<std::uint64_t> order;  // front = most recent
  std::unordered_map<std::uint64_t, std::list<std::uint64_t>::iterator> where;
  std::mt19937_64 rng(42);
  for (int step = 0; step < 200'000; ++step) {
    const std::uint64_t key = rng() % 100;  // many more keys than entries
    auto s = t.FindOrInsert(key, key * 10);
    ASSERT_EQ(*s.value, key * 10);
    if (auto it = where.find(key); it != where.end()) {
      ASSERT_FALSE(s.inserted);
      order.erase(it->second);
    } else {
      ASSERT_TRUE(s.inserted);
      ASSERT_EQ(s.evicted, order.size() == kCapacity);
      if (order.size() == kCapacity) {
        where.erase(order.back());
        order.pop_back();
      }
    }
    order.push_front(key);
    where[key] = order.begin();
    if (step % 997 == 0) {
      for (std::uint64_t k = 0; k < 100; ++k) {
        ASSERT_EQ(t.Find(k) != nullptr, where.count(k) == 1) << "key " << k << " step " << step;
      }
      // Find refreshes recency in the table; mirror that in the reference.
      for (std::uint64_t k = 0; k < 100; ++k) {
        if (auto it = where.find(k); it != where.end()) {
          order.erase(it->second);
          order.push_front(k);
          it->second = order.begin();
        }
      }
    }
  }
  EXPECT_EQ(t.size(), kCapacity);
}

// SipHash-2-4 matches the reference vectors (key 00..0f, messages 00, 00 01, ...).
TEST(BoundedTableTest, KeyHashIsSipHash24) {
  const HashSeed seed{0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL};
  std::string msg;
  EXPECT_EQ(KeyHash(msg, seed), 0x726fdb47dd0e0e31ULL);
  for (int i = 0; i < 15; ++i) msg.push_back(static_cast<char>(i));
  EXPECT_EQ(KeyHash(msg, seed), 0xa129ca6149be45e5ULL);
  msg.push_back(15);
  EXPECT_EQ(KeyHash(msg, seed), 0x3f2acc7f57c29bdbULL);
  EXPECT_NE(KeyHash("client-1", seed), KeyHash("client-1", HashSeed{}));
}

// A million distinct client ids through the admission gate's limiter table leave it at its
// fixed capacity and allocate nothing: memory cannot grow with the number of clients.
TEST(BoundedTableTest, MillionDistinctClientsKeepMemoryFixed) {
  AdmissionConfig config;
  config.client = {1, 1};
  config.client_capacity = 10'000;
  AdmissionGate gate(config);
  char key[32];
  const long before = g_allocations.load();
  for (int i = 0; i < 1'000'000; ++i) {
    std::snprintf(key, sizeof key, "bot-%d", i);
    ASSERT_EQ(gate.AdmitClient(key, 1'000).verdict, Verdict::kAdmit);
  }
  EXPECT_EQ(g_allocations.load() - before, 0);
  EXPECT_EQ(gate.client_entries(), 10'000u);
  EXPECT_EQ(gate.client_evictions(), 990'000u);
  // The most recent clients are still tracked: their one token is spent.
  EXPECT_EQ(gate.AdmitClient("bot-999999", 1'000).verdict, Verdict::kRateLimited);
}

}  // namespace
}  // namespace stockgate::core
