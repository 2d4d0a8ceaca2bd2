// The ledger stream's formats: entry ids and their packing, decoding of every kind of change with
// the events derived from it, and refusal of malformed ones.
#include "origin/store/ledger_stream.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

namespace stockgate::store {
namespace {

constexpr std::int64_t kT0 = 1'800'000'000'000;

Reply Str(std::string s) {
  Reply r;
  r.type = Reply::Type::kString;
  r.str = std::move(s);
  return r;
}

Reply Entry(std::string id, const std::vector<std::string>& kv) {
  Reply fields;
  fields.type = Reply::Type::kArray;
  for (const auto& s : kv) fields.elements.push_back(Str(s));
  Reply e;
  e.type = Reply::Type::kArray;
  e.elements = {Str(std::move(id)), fields};
  return e;
}

// Packed ids order exactly like the ids and round-trip; out-of-range ids are refused.
TEST(StreamIdTest, PacksInOrderAndRoundTrips) {
  StreamId a, b;
  ASSERT_TRUE(StreamId::Parse("1700000000000-5", &a));
  ASSERT_TRUE(StreamId::Parse("1700000000001-0", &b));
  EXPECT_LT(a, b);
  EXPECT_LT(a.Packed(), b.Packed());
  EXPECT_EQ(StreamId::FromPacked(a.Packed()), a);
  EXPECT_EQ(a.Text(), "1700000000000-5");
  StreamId c;
  for (const char* bad :
       {"", "12", "-1", "1-", "a-1", "1-1048576", "1-2-3", "9223372036854775807-0"}) {
    EXPECT_FALSE(StreamId::Parse(bad, &c)) << bad;
  }
}

// The whole record of an order change, for the decode tests.
std::vector<std::string> OrderFields(std::string ops, std::string items, std::string after) {
  return {"change", "order",
          "ops",    std::move(ops),
          "order",  "o-1",
          "actor",  "svc",
          "reason", "paid",
          "time",   "120",
          "record", "confirmed|" + items + "|c|60|1|60120|120|120",
          "after",  std::move(after)};
}

// Decodes into *e; a failure's reason goes into the assertion's message.
::testing::AssertionResult Decode(const Reply& entry, OutboxEntry* e) {
  core::Result<OutboxEntry> r = DecodeOutboxEntry(entry);
  if (!r) return ::testing::AssertionFailure() << r.error();
  *e = std::move(r).value();
  return ::testing::AssertionSuccess();
}

// A direct sale of two items is four events with ids from the entry's own on: both reserves, then
// both confirms, as the model orders them; before/after and versions follow from the counters
// after the change by the replay rules; the record is the whole reservation.
TEST(OutboxDecodeTest, OrderChangeDerivesItsEvents) {
  OutboxEntry e;
  // sku 42: 10 on hand before, sells 3 -> 7 on hand, 0 reserved, 3 sold, version 4 -> 6.
  // sku 7: 5 on hand, 1 reserved before, sells 1 -> 4 on hand, 1 reserved, 1 sold, version 9.
  ASSERT_TRUE(
      Decode(Entry("5-1", OrderFields("reserve,confirm", "42:3,7:1", "7:0:3:6,4:1:1:9")), &e));
  EXPECT_EQ(e.id.Text(), "5-1");
  const auto event = [](const char* id, std::int64_t sku, core::LedgerOp op, std::int64_t qty,
                        std::int64_t before, std::int64_t after, std::int64_t version) {
    LedgerRecord l;
    EXPECT_TRUE(StreamId::Parse(id, &l.id));
    l.sku = sku;
    l.ref = "o-1";
    l.op = op;
    l.qty = qty;
    l.before = before;
    l.after = after;
    l.actor = "svc";
    l.reason = "paid";
    l.time_ms = 120;
    l.version = version;
    return l;
  };
  using core::LedgerOp;
  EXPECT_EQ(e.events, (std::vector<LedgerRecord>{event("5-1", 42, LedgerOp::kReserve, 3, 10, 7, 5),
                                                 event("5-2", 7, LedgerOp::kReserve, 1, 4, 3, 8),
                                                 event("5-3", 42, LedgerOp::kConfirm, 3, 7, 7, 6),
                                                 event("5-4", 7, LedgerOp::kConfirm, 1, 3, 3, 9)}));
  ASSERT_TRUE(e.reservation.has_value());
  EXPECT_EQ(e.reservation->order_id, "o-1");
  EXPECT_EQ(e.reservation->status, core::ReservationStatus::kConfirmed);
  EXPECT_EQ(e.reservation->items, (std::vector<core::Item>{{42, 3}, {7, 1}}));
  EXPECT_TRUE(e.reservation->confirm);
  EXPECT_EQ(e.reservation->expires_at_ms, 60120);
  EXPECT_FALSE(e.stock.has_value());

  // An extend moves no counter: the record only.
  ASSERT_TRUE(Decode(Entry("6-0", OrderFields("", "42:3", "")), &e));
  EXPECT_TRUE(e.events.empty());
  ASSERT_TRUE(e.reservation.has_value());
}

// A set carries its event (when on_hand moved) and the SKU's options; an adjustment its event
// only; a repair its compensating events, which move no counter.
TEST(OutboxDecodeTest, StockAndRepairChanges) {
  OutboxEntry e;
  const auto stock = [](std::string op, std::string qty, std::string events) {
    return std::vector<std::string>{
        "change", "stock", "op",     std::move(op),  "sku",    "42",
        "ref",    "r-9",   "qty",    std::move(qty), "events", std::move(events),
        "actor",  "admin", "reason", "count",        "time",   "99",
        "limit",  "2",     "after",  "12:2:0:5"};
  };
  ASSERT_TRUE(Decode(Entry("6-0", stock("set", "-3", "1")), &e));
  ASSERT_EQ(e.events.size(), 1u);
  EXPECT_EQ(e.events[0].op, core::LedgerOp::kSet);
  EXPECT_EQ(e.events[0].qty, -3);
  EXPECT_EQ(e.events[0].before, 13);
  EXPECT_EQ(e.events[0].after, 10);
  EXPECT_EQ(e.events[0].version, 5);
  EXPECT_EQ(e.events[0].ref, "r-9");
  EXPECT_EQ(e.stock, (StockRecord{42, 2, 5, 99}));

  ASSERT_TRUE(Decode(Entry("6-1", stock("set", "0", "0")), &e));
  EXPECT_TRUE(e.events.empty()) << "a limit-only set has no event";
  EXPECT_EQ(e.stock, (StockRecord{42, 2, 5, 99}));

  // The low-stock threshold rides along; entries from before it existed have none (0).
  std::vector<std::string> with_low = stock("set", "0", "0");
  with_low.insert(with_low.end(), {"low", "4"});
  ASSERT_TRUE(Decode(Entry("6-3", with_low), &e));
  EXPECT_EQ(e.stock, (StockRecord{42, 2, 5, 99, 4}));

  ASSERT_TRUE(Decode(Entry("6-2", stock("adjust", "4", "1")), &e));
  ASSERT_EQ(e.events.size(), 1u);
  EXPECT_EQ(e.events[0].op, core::LedgerOp::kAdjust);
  EXPECT_EQ(e.events[0].before, 6);
  EXPECT_FALSE(e.stock.has_value());

  ASSERT_TRUE(Decode(Entry("7-0", {"change", "repair", "sku", "42", "ref", "#repair", "ops",
                                   "return:-2,adjust:5", "actor", "ops", "reason", "drift", "time",
                                   "100", "available", "8", "version", "11"}),
                     &e));
  ASSERT_EQ(e.events.size(), 2u);
  EXPECT_EQ(e.events[0].op, core::LedgerOp::kReturn);
  EXPECT_EQ(e.events[0].qty, -2);
  EXPECT_EQ(e.events[0].before, 8);
  EXPECT_EQ(e.events[0].after, 8);
  EXPECT_EQ(e.events[0].version, 10);
  EXPECT_EQ(e.events[1].version, 11);
  EXPECT_EQ(e.events[1].id.Text(), "7-1");
}

// Entries with a missing or malformed field, an unknown change or op, and entries of the earlier
// format are refused with a reason.
TEST(OutboxDecodeTest, RefusesMalformedEntries) {
  EXPECT_EQ(DecodeOutboxEntry(Entry("1-0", {"change", "nope"})).error(), "change: unknown");
  EXPECT_FALSE(DecodeOutboxEntry(Entry("1-0", {"sku", "1"})).ok());
  EXPECT_EQ(DecodeOutboxEntry(Entry("1-0", OrderFields("steal", "1:1", "1:0:0:1"))).error(),
            "ops: unknown op");
  EXPECT_EQ(DecodeOutboxEntry(Entry("1-0", OrderFields("reserve", "1:", "1:1:0:1"))).error(),
            "record: malformed items");
  std::vector<std::string> short_record = OrderFields("reserve", "1:1", "1:1:0:1");
  short_record[13] = "reserved|1:1||60|0|1|1";
  EXPECT_EQ(DecodeOutboxEntry(Entry("1-0", short_record)).error(), "record: not eight fields");
  EXPECT_EQ(DecodeOutboxEntry(Entry("1-0", OrderFields("reserve", "1:1,2:1", "1:1:0:1"))).error(),
            "after: not one per item");
  EXPECT_EQ(DecodeOutboxEntry(Entry("1-0", OrderFields("reserve", "1:1", "1:1:0"))).error(),
            "after: malformed");
  EXPECT_FALSE(DecodeOutboxEntry(Entry("x", {"change", "stock"})).ok());
  EXPECT_FALSE(DecodeOutboxEntry(Str("1-0")).ok());
  // The format before one entry per change.
  const core::Result<OutboxEntry> old = DecodeOutboxEntry(
      Entry("1-0", {"kind", "ledger", "sku", "1", "ref", "", "op", "set", "qty", "1"}));
  EXPECT_NE(old.error().find("earlier outbox format"), std::string::npos) << old.error();
}

// A row of the history's reservations table back into the view it records; an unknown status or
// malformed items are refused, naming the order.
TEST(ViewOfRecordTest, ReadsARowAndRefusesAMalformedOne) {
  history::ReservationRecord record{.order_id = "o-1",
                                    .status = "returned",
                                    .items = "7:2,9:1",
                                    .customer_id = "alice",
                                    .ttl_seconds = 900,
                                    .confirm = true,
                                    .expires_at_ms = 3000,
                                    .created_at_ms = 1000,
                                    .updated_at_ms = 2000};
  const core::Result<core::ReservationView> v = ViewOfRecord(record);
  ASSERT_TRUE(v.ok()) << v.error();
  EXPECT_EQ(v->order_id, "o-1");
  EXPECT_EQ(v->status, core::ReservationStatus::kReturned);
  ASSERT_EQ(v->items.size(), 2u);
  EXPECT_EQ(v->items[1].sku, 9);
  EXPECT_EQ(v->customer_id, "alice");
  EXPECT_TRUE(v->confirm);
  EXPECT_EQ(v->expires_at_ms, 3000);
  EXPECT_EQ(v->updated_at_ms, 2000);
  record.status = "lost";
  EXPECT_EQ(ViewOfRecord(record).error(), "reservation o-1 has an unknown status");
  record.status = "reserved";
  record.items = "7:x";
  EXPECT_EQ(ViewOfRecord(record).error(), "reservation o-1 has malformed items");
}

}  // namespace
}  // namespace stockgate::store
