// BoundedTable: a fixed-capacity hash table from 64-bit keys to values, with least-recently-used
// eviction. All memory is allocated in the constructor, so a flood of distinct keys (a bot rotating
// client ids) evicts old entries instead of growing memory. KeyHash turns client strings into keys
// with SipHash-2-4 under a secret seed, so clients cannot aim collisions at each other's entries.
#ifndef STOCKGATE_CORE_BOUNDED_TABLE_H_
#define STOCKGATE_CORE_BOUNDED_TABLE_H_

#include <cassert>
#include <cstdint>
#include <string_view>
#include <vector>

namespace stockgate::core {

struct HashSeed {
  std::uint64_t k0 = 0x736f6d6570736575ULL;
  std::uint64_t k1 = 0x646f72616e646f6dULL;
};

// SipHash-2-4 of `data` under `seed`.
std::uint64_t KeyHash(std::string_view data, const HashSeed& seed);
// Finalizer that spreads integer keys (SKUs) over the slots.
std::uint64_t MixKey(std::uint64_t key);

template <class V>
class BoundedTable {
 public:
  struct Slot {
    V* value = nullptr;
    bool inserted = false;  // the key was not present
    bool evicted = false;   // making room pushed out the least recently used entry
  };

  // capacity >= 1 entries; the index has a power-of-two number of slots, at least twice that.
  explicit BoundedTable(std::uint32_t capacity) : entries_(capacity < 1 ? 1 : capacity) {
    std::uint32_t slots = 2;
    while (slots < 2 * entries_.size()) slots *= 2;
    index_.assign(slots, kNone);
    mask_ = slots - 1;
  }

  std::uint32_t size() const { return size_; }
  std::uint32_t capacity() const { return static_cast<std::uint32_t>(entries_.size()); }
  std::uint64_t evictions() const { return evictions_; }

  // The value for key, marked most recently used; nullptr when absent.
  V* Find(std::uint64_t key) {
    const std::uint32_t e = Lookup(key);
    if (e == kNone) return nullptr;
    Touch(e);
    return &entries_[e].value;
  }

  // The value for key; when absent, inserts `initial`, evicting the least recently used entry if
  // the table is full.
  Slot FindOrInsert(std::uint64_t key, const V& initial) {
    if (const std::uint32_t e = Lookup(key); e != kNone) {
      Touch(e);
      return {&entries_[e].value, false, false};
    }
    Slot slot{nullptr, true, false};
    std::uint32_t e;
    if (size_ < entries_.size()) {
      e = size_++;
    } else {
      e = tail_;
      Unindex(entries_[e].key);
      Unlink(e);
      ++evictions_;
      slot.evicted = true;
    }
    entries_[e].key = key;
    entries_[e].value = initial;
    Index(key, e);
    PushFront(e);
    slot.value = &entries_[e].value;
    return slot;
  }

 private:
  static constexpr std::uint32_t kNone = 0xFFFFFFFFu;

  struct Entry {
    std::uint64_t key = 0;
    std::uint32_t prev = kNone;  // toward most recently used
    std::uint32_t next = kNone;  // toward least recently used
    V value{};
  };

  std::uint32_t Home(std::uint64_t key) const {
    return static_cast<std::uint32_t>(MixKey(key)) & mask_;
  }

  std::uint32_t Lookup(std::uint64_t key) const {
    for (std::uint32_t s = Home(key);; s = (s + 1) & mask_) {
      const std::uint32_t e = index_[s];
      if (e == kNone) return kNone;
      if (entries_[e].key == key) return e;
    }
  }

  void Index(std::uint64_t key, std::uint32_t e) {
    std::uint32_t s = Home(key);
    while (index_[s] != kNone) s = (s + 1) & mask_;
    index_[s] = e;
  }

  // Linear-probing delete with backward shift: later entries of the probe run move into the gap,
  // so lookups never need tombstones and the index never degrades under churn.
  void Unindex(std::uint64_t key) {
    std::uint32_t s = Home(key);
    while (entries_[index_[s]].key != key) s = (s + 1) & mask_;
    std::uint32_t gap = s;
    for (std::uint32_t t = (gap + 1) & mask_; index_[t] != kNone; t = (t + 1) & mask_) {
      const std::uint32_t home = Home(entries_[index_[t]].key);
      // Move t into the gap unless its home lies cyclically in (gap, t].
      const bool home_after_gap = gap <= t ? (gap < home && home <= t) : (gap < home || home <= t);
      if (!home_after_gap) {
        index_[gap] = index_[t];
        gap = t;
      }
    }
    index_[gap] = kNone;
  }

  void Unlink(std::uint32_t e) {
    Entry& x = entries_[e];
    if (x.prev != kNone)
      entries_[x.prev].next = x.next;
    else
      head_ = x.next;
    if (x.next != kNone)
      entries_[x.next].prev = x.prev;
    else
      tail_ = x.prev;
    x.prev = x.next = kNone;
  }

  void PushFront(std::uint32_t e) {
    entries_[e].next = head_;
    entries_[e].prev = kNone;
    if (head_ != kNone) entries_[head_].prev = e;
    head_ = e;
    if (tail_ == kNone) tail_ = e;
  }

  void Touch(std::uint32_t e) {
    if (head_ == e) return;
    Unlink(e);
    PushFront(e);
  }

  std::vector<Entry> entries_;
  std::vector<std::uint32_t> index_;
  std::uint32_t mask_ = 0;
  std::uint32_t size_ = 0;
  std::uint32_t head_ = kNone;
  std::uint32_t tail_ = kNone;
  std::uint64_t evictions_ = 0;
};

}  // namespace stockgate::core

#endif  // STOCKGATE_CORE_BOUNDED_TABLE_H_
