#include "sync/outbox.h"

#include <algorithm>
#include <map>
#include <optional>
#include <utility>

#include "origin/store/keyspace.h"

namespace stockgate::sync {

using store::CommandResult;
using store::DecodeOutboxEntry;
using store::Reply;

Outbox::Outbox(RedisClient& redis, std::string key_prefix, std::string group, int partition)
    : redis_(redis), key_(store::LedgerKey(key_prefix, partition)), group_(std::move(group)) {}

namespace {

using InfoMap = std::map<std::string, const Reply*, std::less<>>;

// An XINFO record ([field, value, field, value, ...]) by field name.
InfoMap InfoOf(const Reply& record) {
  InfoMap info;
  for (std::size_t i = 0; i + 1 < record.elements.size(); i += 2) {
    info[record.elements[i].str] = &record.elements[i + 1];
  }
  return info;
}

// The XINFO GROUPS record of `group`; empty when the reply has none.
InfoMap GroupInfo(const Reply& groups, std::string_view group) {
  for (const Reply& g : groups.elements) {
    InfoMap info = InfoOf(g);
    const auto name = info.find("name");
    if (name != info.end() && name->second->str == group) return info;
  }
  return {};
}

// A call that failed, or whose reply was not the one expected: Redis's error text, if any.
core::Error Failed(const CommandResult& r) {
  if (!r.ok()) return r.failure();
  return core::Fail(core::Code::kUnavailable,
                    r->str.empty() ? std::string("unexpected redis reply") : r->str);
}

}  // namespace

OutboxCount Outbox::EnsureGroup() {
  const CommandResult r = redis_.Command({"XGROUP", "CREATE", key_, group_, "0", "MKSTREAM"});
  if (!r.ok() || (r->is_error() && r->str.rfind("BUSYGROUP", 0) != 0)) return Failed(r);
  return 0;
}

OutboxRead Outbox::Decode(const CommandResult& r, bool claim) {
  if (!r.ok() || r->is_error()) return Failed(r);
  OutboxBatch out;
  const Reply* entries = nullptr;
  if (claim) {
    // XAUTOCLAIM: [next cursor, entries, (Redis 7) deleted ids].
    if (!r->is_array() || r->elements.size() < 2) {
      return core::Fail(core::Code::kUnavailable, "unexpected XAUTOCLAIM reply");
    }
    out.next_cursor = r->elements[0].str;
    entries = &r->elements[1];
  } else if (r->is_array() && !r->elements.empty()) {
    // XREADGROUP: [[stream, entries]]; nil when BLOCK timed out.
    const Reply& stream = r->elements[0];
    if (stream.elements.size() == 2) entries = &stream.elements[1];
  }
  if (entries == nullptr) return out;
  for (const Reply& e : entries->elements) {
    // A pending entry that was deleted from the stream reads back as [id, nil]: nothing to do.
    if (e.elements.size() == 2 && e.elements[1].is_nil()) continue;
    core::Result<OutboxEntry> decoded = DecodeOutboxEntry(e);
    if (decoded) {
      out.entries.push_back(std::move(decoded).value());
    } else {
      out.malformed.emplace_back(e.elements.empty() ? "" : e.elements[0].str, decoded.error());
    }
  }
  return out;
}

OutboxRead Outbox::ReadNew(std::string_view consumer, int count, int block_ms) {
  std::vector<std::string> argv = {"XREADGROUP",          "GROUP", group_,
                                   std::string(consumer), "COUNT", std::to_string(count)};
  // BLOCK 0 would wait forever: no wait is no BLOCK at all.
  if (block_ms > 0) argv.insert(argv.end(), {"BLOCK", std::to_string(block_ms)});
  argv.insert(argv.end(), {"STREAMS", key_, ">"});
  return Decode(redis_.Command(argv), false);
}

OutboxRead Outbox::ReadOwnPending(std::string_view consumer, int count) {
  return Decode(redis_.Command({"XREADGROUP", "GROUP", group_, std::string(consumer), "COUNT",
                                std::to_string(count), "STREAMS", key_, "0"}),
                false);
}

OutboxRead Outbox::Claim(std::string_view consumer, std::int64_t min_idle_ms, int count,
                         std::string_view cursor) {
  return Decode(redis_.Command({"XAUTOCLAIM", key_, group_, std::string(consumer),
                                std::to_string(min_idle_ms), std::string(cursor), "COUNT",
                                std::to_string(count)}),
                true);
}

OutboxCount Outbox::Ack(const std::vector<StreamId>& ids) {
  if (ids.empty()) return 0;
  std::vector<std::string> argv = {"XACK", key_, group_};
  for (const StreamId& id : ids) argv.push_back(id.Text());
  const CommandResult r = redis_.Command(argv);
  if (!r.ok() || !r->is_integer()) return Failed(r);
  return r->integer;
}

core::Result<store::StreamId> Outbox::SyncedBefore() {
  // The group's last delivered id, from XINFO GROUPS ([name, n, ..., last-delivered-id, id, ...]).
  const CommandResult groups = redis_.Command({"XINFO", "GROUPS", key_});
  if (!groups.ok() || !groups->is_array()) return Failed(groups);
  const InfoMap info = GroupInfo((*groups), group_);
  const auto last = info.find("last-delivered-id");
  std::optional<StreamId> last_delivered;
  if (StreamId id; last != info.end() && StreamId::Parse(last->second->str, &id)) {
    last_delivered = id;
  }
  if (!last_delivered) {
    return core::Fail(core::Code::kUnavailable, "group " + group_ + " not found");
  }
  // Oldest pending entry: XPENDING summary is [count, smallest id, greatest id, consumers].
  const CommandResult pending = redis_.Command({"XPENDING", key_, group_});
  if (!pending.ok() || !pending->is_array() || pending->elements.size() < 2) {
    return Failed(pending);
  }
  StreamId keep_from = *last_delivered;
  ++keep_from.seq;  // everything up to the last delivered id has been delivered
  if (pending->elements[0].integer > 0) {
    StreamId oldest;
    if (!StreamId::Parse(pending->elements[1].str, &oldest)) {
      return core::Fail(core::Code::kUnavailable, "bad XPENDING reply");
    }
    keep_from = std::min(keep_from, oldest);
  }
  return keep_from;
}

OutboxCount Outbox::Trim() {
  const core::Result<StreamId> keep_from = SyncedBefore();
  if (!keep_from) return keep_from.failure();
  const CommandResult r = redis_.Command({"XTRIM", key_, "MINID", keep_from->Text()});
  if (!r.ok() || !r->is_integer()) return Failed(r);
  return r->integer;
}

core::Result<Outbox::Backlog> Outbox::Measure() {
  Backlog b;
  const CommandResult len = redis_.Command({"XLEN", key_});
  const CommandResult pending = redis_.Command({"XPENDING", key_, group_});
  const CommandResult groups = redis_.Command({"XINFO", "GROUPS", key_});
  if (!len.ok() || !len->is_integer()) return Failed(len);
  if (!pending.ok() || !pending->is_array() || pending->elements.empty()) return Failed(pending);
  b.length = len->integer;
  b.pending = pending->elements[0].integer;
  if (groups.ok() && groups->is_array()) {
    // Redis 7: "lag" counts entries not yet delivered to the group (nil when unknown).
    const InfoMap info = GroupInfo((*groups), group_);
    const auto lag = info.find("lag");
    if (lag != info.end() && lag->second->is_integer()) b.undelivered = lag->second->integer;
  }
  return b;
}

OutboxCount Outbox::ForgetIdleConsumers(std::int64_t idle_ms) {
  const CommandResult r = redis_.Command({"XINFO", "CONSUMERS", key_, group_});
  if (!r.ok() || !r->is_array()) return Failed(r);
  std::int64_t removed = 0;
  for (const Reply& c : r->elements) {
    const InfoMap info = InfoOf(c);
    const auto name = info.find("name");
    const auto pending = info.find("pending");
    const auto idle = info.find("idle");
    if (name == info.end() || pending == info.end() || idle == info.end()) continue;
    if (pending->second->integer != 0 || idle->second->integer < idle_ms) continue;
    const CommandResult d =
        redis_.Command({"XGROUP", "DELCONSUMER", key_, group_, name->second->str});
    if (d.ok() && d->is_integer()) ++removed;
  }
  return removed;
}

}  // namespace stockgate::sync
