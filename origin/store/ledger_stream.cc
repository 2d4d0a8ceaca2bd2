#include "origin/store/ledger_stream.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <optional>
#include <utility>

namespace stockgate::store {
namespace {

constexpr std::uint64_t kMaxSeq = std::uint64_t{1} << StreamId::kSeqBits;

template <class Int>
bool ParseInt(std::string_view text, Int* out) {
  if (text.empty()) return false;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, *out);
  return ec == std::errc() && ptr == end;
}

// Field access over an entry's flat [field, value, ...] list; records the first missing or
// malformed field.
class Fields {
 public:
  explicit Fields(const Reply& list) {
    for (std::size_t i = 0; i + 1 < list.elements.size(); i += 2) {
      values_[list.elements[i].str] = list.elements[i + 1].str;
    }
  }
  bool Has(const char* name) const { return values_.count(name) != 0; }
  std::string Str(const char* name) {
    const auto it = values_.find(name);
    if (it == values_.end()) return Fail(name, "missing"), std::string();
    return it->second;
  }
  std::int64_t Int(const char* name) {
    std::int64_t v = 0;
    const auto it = values_.find(name);
    if (it == values_.end()) return Fail(name, "missing"), 0;
    if (!ParseInt(it->second, &v)) return Fail(name, "not an integer"), 0;
    return v;
  }
  void Fail(const char* name, std::string_view why) {
    if (error_.empty()) {
      error_ = name;
      error_ += ": ";
      error_ += why;
    }
  }
  const std::string& error() const { return error_; }

 private:
  std::map<std::string, std::string, std::less<>> values_;
  std::string error_;
};

}  // namespace

std::string StreamId::Text() const {
  std::string out = std::to_string(ms);
  out += '-';
  out += std::to_string(seq);
  return out;
}

StreamId StreamId::FromPacked(std::int64_t packed) {
  const auto u = static_cast<std::uint64_t>(packed);
  return {u >> kSeqBits, u & (kMaxSeq - 1)};
}

bool StreamId::Parse(std::string_view text, StreamId* out) {
  const auto dash = text.find('-');
  if (dash == std::string_view::npos) return false;
  StreamId id;
  if (!ParseInt(text.substr(0, dash), &id.ms) || !ParseInt(text.substr(dash + 1), &id.seq)) {
    return false;
  }
  // ms must leave room for the seq bits in a signed 64-bit number.
  if (id.seq >= kMaxSeq || id.ms >= (std::uint64_t{1} << (63 - kSeqBits))) return false;
  *out = id;
  return true;
}

core::Result<std::vector<core::Item>> ParseItemsField(std::string_view text) {
  const core::Error malformed = core::Fail(core::Code::kUnavailable, "malformed items");
  std::vector<core::Item> items;
  while (!text.empty()) {
    const auto comma = text.find(',');
    const std::string_view part = text.substr(0, comma);
    const auto colon = part.find(':');
    core::Item item;
    if (colon == std::string_view::npos || !ParseInt(part.substr(0, colon), &item.sku) ||
        !ParseInt(part.substr(colon + 1), &item.qty)) {
      return malformed;
    }
    items.push_back(item);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  if (items.empty()) return malformed;
  return items;
}

core::Result<core::ReservationView> ViewOfRecord(const history::ReservationRecord& record) {
  const std::optional<core::ReservationStatus> status =
      core::ReservationStatusFromName(record.status);
  if (!status) {
    return core::Fail(core::Code::kUnavailable,
                      "reservation " + record.order_id + " has an unknown status");
  }
  core::Result<std::vector<core::Item>> items = ParseItemsField(record.items);
  if (!items) {
    return core::Fail(core::Code::kUnavailable,
                      "reservation " + record.order_id + " has malformed items");
  }
  core::ReservationView r;
  r.order_id = record.order_id;
  r.status = *status;
  r.items = std::move(items).value();
  r.customer_id = record.customer_id;
  r.ttl_seconds = record.ttl_seconds;
  r.confirm = record.confirm;
  r.expires_at_ms = record.expires_at_ms;
  r.created_at_ms = record.created_at_ms;
  r.updated_at_ms = record.updated_at_ms;
  return r;
}

std::string FormatItemsField(const std::vector<core::Item>& items) {
  std::string out;
  for (const core::Item& item : items) {
    if (!out.empty()) out += ',';
    out += std::to_string(item.sku);
    out += ':';
    out += std::to_string(item.qty);
  }
  return out;
}

namespace {

// "on_hand:reserved:sold:version" of a SKU after a change.
struct After {
  core::StockCounters counters;
  std::int64_t version = 0;
};

bool ParseAfter(std::string_view text, After* out) {
  std::int64_t v[4];
  for (int i = 0; i < 4; ++i) {
    const auto colon = text.find(':');
    if ((colon == std::string_view::npos) != (i == 3)) return false;
    if (!ParseInt(text.substr(0, colon), &v[i])) return false;
    text.remove_prefix(colon == std::string_view::npos ? text.size() : colon + 1);
  }
  *out = {{v[0], v[1], v[2]}, v[3]};
  return true;
}

// The parts of `text` between separators; none for "".
std::vector<std::string_view> Split(std::string_view text, char by) {
  std::vector<std::string_view> parts;
  if (text.empty()) return parts;
  while (true) {
    const auto at = text.find(by);
    parts.push_back(text.substr(0, at));
    if (at == std::string_view::npos) return parts;
    text.remove_prefix(at + 1);
  }
}

}  // namespace

core::Result<core::ReservationView> ParseReservationRecord(std::string_view text) {
  const auto malformed = [](const char* why) { return core::Fail(core::Code::kUnavailable, why); };
  const std::vector<std::string_view> f = Split(text, '|');
  if (f.size() != 8) return malformed("not eight fields");
  core::ReservationView r;
  if (const auto parsed = core::ReservationStatusFromName(f[0])) {
    r.status = *parsed;
  } else {
    return malformed("unknown status");
  }
  core::Result<std::vector<core::Item>> items = ParseItemsField(f[1]);
  if (!items) return items.failure();
  r.items = std::move(items).value();
  r.customer_id = std::string(f[2]);
  if (!ParseInt(f[3], &r.ttl_seconds) || (f[4] != "0" && f[4] != "1") ||
      !ParseInt(f[5], &r.expires_at_ms) || !ParseInt(f[6], &r.created_at_ms) ||
      !ParseInt(f[7], &r.updated_at_ms)) {
    return malformed("malformed number");
  }
  r.confirm = f[4] == "1";
  return r;
}

namespace {

// The events of one SKU within a change, in order: `ops` applied one after the other, ending at
// `after`. Each event's before/after available and version follow from the replay rules.
void AppendEvents(const OutboxEntry& entry, std::int64_t sku,
                  const std::vector<core::LedgerOp>& ops, std::int64_t qty, const After& after,
                  const LedgerRecord& common,
                  std::vector<std::pair<std::size_t, LedgerRecord>>* out, std::size_t first_slot,
                  std::size_t stride) {
  core::StockCounters state = after.counters;
  for (const core::LedgerOp op : ops) state -= core::DeltaOf(op, qty);
  std::int64_t version = after.version - static_cast<std::int64_t>(ops.size());
  for (std::size_t k = 0; k < ops.size(); ++k) {
    LedgerRecord e = common;
    e.sku = sku;
    e.op = ops[k];
    e.qty = qty;
    e.before = state.available();
    state += core::DeltaOf(ops[k], qty);
    e.after = state.available();
    e.version = ++version;
    const std::size_t slot = first_slot + k * stride;
    e.id = {entry.id.ms, entry.id.seq + slot};
    out->emplace_back(slot, std::move(e));
  }
}

}  // namespace

core::Result<OutboxEntry> DecodeOutboxEntry(const Reply& entry) {
  const auto malformed = [](std::string why) {
    return core::Fail(core::Code::kUnavailable, std::move(why));
  };
  if (!entry.is_array() || entry.elements.size() != 2 || !entry.elements[1].is_array()) {
    return malformed("not a stream entry");
  }
  OutboxEntry decoded;
  OutboxEntry* out = &decoded;
  if (!StreamId::Parse(entry.elements[0].str, &out->id)) {
    return malformed("bad entry id " + entry.elements[0].str);
  }
  Fields f(entry.elements[1]);
  if (f.Has("kind")) {
    return malformed(
        "entry of the earlier outbox format (one entry per event, field kind): drain the stream "
        "with the stockgate-sync that matches the origin that wrote it before upgrading (see "
        "docs/operations.md, Upgrading)");
  }
  const std::string change = f.Str("change");
  if (change != "order" && change != "stock" && change != "repair") {
    f.Fail("change", change.empty() ? "missing" : "unknown");
  }
  LedgerRecord common;
  common.actor = f.Str("actor");
  common.reason = f.Str("reason");
  common.time_ms = f.Int("time");
  // (slot in the entry, event): the slot gives the event its id and its place in the stream.
  std::vector<std::pair<std::size_t, LedgerRecord>> events;
  if (change == "order") {
    core::ReservationView& r = out->reservation.emplace();
    const std::string order_id = f.Str("order");
    const std::string record = f.Str("record");
    if (f.error().empty()) {
      if (core::Result<core::ReservationView> parsed = ParseReservationRecord(record)) {
        r = std::move(parsed).value();
      } else {
        f.Fail("record", parsed.error());
      }
    }
    r.order_id = order_id;
    std::vector<core::LedgerOp> ops;
    const std::string ops_text = f.Str("ops");
    for (const std::string_view name : Split(ops_text, ',')) {
      if (const auto op = core::LedgerOpFromName(name)) {
        ops.push_back(*op);
      } else {
        f.Fail("ops", "unknown op");
      }
    }
    const std::string after_text = f.Str("after");
    const std::vector<std::string_view> afters = Split(after_text, ',');
    if (!ops.empty() && afters.size() != r.items.size()) f.Fail("after", "not one per item");
    common.ref = r.order_id;
    for (std::size_t j = 0; f.error().empty() && !ops.empty() && j < r.items.size(); ++j) {
      After after;
      if (!ParseAfter(afters[j], &after)) {
        f.Fail("after", "malformed");
        break;
      }
      // Event of op k on item j sits at slot k * items + j: every item's first op, then the next.
      AppendEvents(*out, r.items[j].sku, ops, r.items[j].qty, after, common, &events, j,
                   r.items.size());
    }
    // A part of an order spanning partitions: its events count, its record is not the order's.
    if (f.Has("part")) out->reservation.reset();
  } else if (change == "stock") {
    const std::int64_t sku = f.Int("sku");
    const std::string op_name = f.Str("op");
    const auto op = core::LedgerOpFromName(op_name);
    if (!op || (*op != core::LedgerOp::kSet && *op != core::LedgerOp::kAdjust)) {
      f.Fail("op", "not set or adjust");
    }
    const std::int64_t count = f.Int("events");
    if (count != 0 && count != 1) f.Fail("events", "not 0 or 1");
    After after;
    if (!ParseAfter(f.Str("after"), &after)) f.Fail("after", "malformed");
    common.ref = f.Str("ref");
    const std::int64_t limit = f.Int("limit");
    const std::int64_t low = f.Has("low") ? f.Int("low") : 0;
    if (f.error().empty()) {
      if (count == 1) AppendEvents(*out, sku, {*op}, f.Int("qty"), after, common, &events, 0, 1);
      if (*op == core::LedgerOp::kSet)
        out->stock = StockRecord{sku, limit, after.version, common.time_ms, low};
    }
  } else if (change == "repair") {
    const std::int64_t sku = f.Int("sku");
    common.ref = f.Str("ref");
    const std::int64_t available = f.Int("available");
    const std::int64_t version = f.Int("version");
    const std::string ops_text = f.Str("ops");
    const std::vector<std::string_view> ops = Split(ops_text, ',');
    for (std::size_t k = 0; f.error().empty() && k < ops.size(); ++k) {
      const auto colon = ops[k].find(':');
      LedgerRecord e = common;
      e.sku = sku;
      const auto op = core::LedgerOpFromName(ops[k].substr(0, colon));
      if (colon == std::string_view::npos || !op || !ParseInt(ops[k].substr(colon + 1), &e.qty)) {
        f.Fail("ops", "malformed");
        break;
      }
      e.op = *op;
      // Compensations move no counter: the available units stand before and after each.
      e.before = e.after = available;
      // A SKU Redis does not know has version 0; else each event took one version.
      e.version = version == 0 ? 0 : version - static_cast<std::int64_t>(ops.size() - 1 - k);
      e.id = {out->id.ms, out->id.seq + k};
      events.emplace_back(k, std::move(e));
    }
  }
  if (!f.error().empty()) return malformed(f.error());
  std::sort(events.begin(), events.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [slot, e] : events) out->events.push_back(std::move(e));
  if (!out->events.empty() &&
      out->events.back().id.seq >= (std::uint64_t{1} << StreamId::kSeqBits)) {
    return malformed("event ids run past the packable sequence");
  }
  return decoded;
}

}  // namespace stockgate::store
