#include "origin/store/recovery.h"

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>
#include <utility>

#include "origin/store/keyspace.h"
#include "origin/store/op_batcher.h"

namespace stockgate::store {
namespace {

using nlohmann::json;

std::int64_t ToInt(const json& j) {
  if (j.is_number_integer()) return j.get<std::int64_t>();
  if (j.is_number()) return static_cast<std::int64_t>(j.get<double>());
  if (j.is_string()) {
    const auto& s = j.get_ref<const std::string&>();
    std::int64_t v = 0;
    std::from_chars(s.data(), s.data() + s.size(), v);
    return v;
  }
  return 0;
}

const json& At(const json& j, const char* key) {
  static const json kNull;
  if (!j.is_object()) return kNull;
  const auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

// The script's JSON answer: ok, or why not.
core::Status Answer(const CommandResult& r, const char* script) {
  if (!r.ok()) return r.failure();
  if (!r->is_string()) {
    return core::Fail(core::Code::kUnavailable, std::string(script) + " failed: " + r->str);
  }
  const json body = json::parse(r->str, nullptr, false);
  const json& code_name = At(body, "code");
  core::Code code = core::Code::kOk;
  if (!code_name.is_string() || !core::CodeFromName(code_name.get<std::string>(), &code)) {
    return core::Fail(core::Code::kUnavailable, std::string(script) + " answered " + r->str);
  }
  if (code == core::Code::kOk) return {};
  const json& message = At(body, "message");
  return core::Fail(code, message.is_string() ? message.get<std::string>() : std::string());
}

}  // namespace

core::Result<RedisAudit> Audit(RedisClient& redis, std::string_view prefix, std::int64_t now_ms,
                               int partition, int partitions) {
  const CommandResult r =
      RunOp(redis, prefix, {"audit", now_ms, "audit", {}}, partition, partitions);
  if (!r.ok()) return r.failure();
  if (!r->is_array() || r->elements.size() != 2 || !r->elements[0].is_string()) {
    return core::Fail(core::Code::kUnavailable, "audit script failed: " + r->str);
  }
  const json body = json::parse(r->elements[0].str, nullptr, false);
  if (body.is_discarded()) {
    return core::Fail(core::Code::kUnavailable, "audit script answered malformed JSON");
  }
  RedisAudit audit;
  if (const json& skus = At(body, "skus"); skus.is_array()) {
    for (const json& s : skus) {
      audit.skus.push_back({ToInt(At(s, "sku")), ToInt(At(s, "on_hand")), ToInt(At(s, "reserved")),
                            ToInt(At(s, "sold")), ToInt(At(s, "version")), ToInt(At(s, "limit"))});
    }
  }
  std::sort(audit.skus.begin(), audit.skus.end(),
            [](const AuditSku& a, const AuditSku& b) { return a.sku < b.sku; });
  if (const json& held = At(body, "held"); held.is_array()) {
    for (const json& h : held) audit.held[ToInt(At(h, "sku"))] += ToInt(At(h, "units"));
  }
  audit.live_holds = ToInt(At(body, "holds"));
  const json& last = At(body, "last_id");
  if (!last.is_string() || !StreamId::Parse(last.get<std::string>(), &audit.last_id)) {
    return core::Fail(core::Code::kUnavailable, "audit script answered a bad last id");
  }
  for (const Reply& e : r->elements[1].elements) {
    core::Result<OutboxEntry> entry = DecodeOutboxEntry(e);
    if (entry) {
      audit.entries.push_back(std::move(entry).value());
    } else {
      audit.malformed.push_back((e.elements.empty() ? std::string("?") : e.elements[0].str) + ": " +
                                entry.error());
    }
  }
  return audit;
}

core::Status Compensate(RedisClient& redis, std::string_view prefix, const AuditSku& seen,
                        const std::vector<Compensation>& events, std::string_view actor,
                        std::string_view reason, std::int64_t now_ms, int partitions) {
  std::vector<std::string> argv;
  argv.push_back(std::to_string(seen.sku));
  argv.push_back(std::to_string(seen.on_hand));
  argv.push_back(std::to_string(seen.reserved));
  argv.push_back(std::to_string(seen.sold));
  argv.emplace_back(reason);
  for (const Compensation& c : events) {
    argv.emplace_back(core::LedgerOpName(c.op));
    argv.push_back(std::to_string(c.qty));
  }
  return Answer(RunOp(redis, prefix, {"compensate", now_ms, std::string(actor), std::move(argv)},
                      SkuPartition(seen.sku, partitions), partitions),
                "compensate");
}

core::Status CheckKeyspaceLayout(RedisClient& redis, std::string_view prefix) {
  for (const std::string& key : EarlierLayoutKeys(prefix)) {
    const CommandResult r = redis.Command({"EXISTS", key});
    if (!r.ok()) return r.failure();
    if (!r->is_integer()) return core::Fail(core::Code::kUnavailable, "EXISTS failed: " + r->str);
    if (r->integer > 0) {
      return core::Fail(core::Code::kInvalidState,
                        "redis holds " + key +
                            ", a key of the layout before partitions, which this version does not "
                            "read: move the data to the current layout first (docs/operations.md, "
                            "\"Upgrading the keyspace\")");
    }
  }
  return {};
}

core::Status CheckPartitionCount(RedisClient& redis, std::string_view prefix, int partitions) {
  const std::string key = PartitionCountKey(prefix);
  const std::string wanted = std::to_string(partitions);
  for (int attempt = 0; attempt < 2; ++attempt) {
    const CommandResult got = redis.Command({"GET", key});
    if (!got.ok()) return got.failure();
    if (got->is_string()) {
      if (got->str == wanted) return {};
      return core::Fail(core::Code::kInvalidState,
                        "the keyspace " + std::string(prefix) + " has " + got->str +
                            " partition(s) (" + key + "); redis_partitions is " + wanted +
                            ": set it to " + got->str + " (a keyspace keeps its partition count)");
    }
    if (!got->is_nil()) return core::Fail(core::Code::kUnavailable, "GET " + key + ": " + got->str);
    if (partitions > 1) {
      // Data without a recorded count was written with one partition, where it would stay
      // invisible to a store of several.
      if (const core::Status empty = KeyspaceIsEmpty(redis, prefix); !empty) {
        if (empty.code() == core::Code::kUnavailable) return empty;
        return core::Fail(core::Code::kInvalidState,
                          "the keyspace " + std::string(prefix) +
                              " holds data of one partition; redis_partitions must stay 1 for it");
      }
    }
    const CommandResult set = redis.Command({"SET", key, wanted, "NX"});
    if (!set.ok()) return set.failure();
    if (set->is_error())
      return core::Fail(core::Code::kUnavailable, "SET " + key + ": " + set->str);
    if (set->is_status()) return {};
    // Another process recorded a count first: compare with it.
  }
  return core::Fail(core::Code::kUnavailable, "could not record the partition count in " + key);
}

core::Status KeyspaceIsEmpty(RedisClient& redis, std::string_view prefix, int partitions) {
  for (int p = 0; p < partitions; ++p) {
    const std::string ledger = LedgerKey(prefix, p);
    const CommandResult stream = redis.Command({"EXISTS", ledger});
    if (!stream.ok()) return stream.failure();
    if (!stream->is_integer()) {
      return core::Fail(core::Code::kUnavailable, "EXISTS: " + stream->str);
    }
    if (stream->integer > 0) {
      // Only a sync process recreates the outbox after a loss, and one still running would sweep
      // restored holds while they are being written (an idle one does not even show as a
      // consumer). So the outbox must be gone, and every sync stopped, before a rebuild.
      return core::Fail(core::Code::kInvalidState,
                        "the outbox " + ledger +
                            " exists: a stockgate-sync ran since the data loss. Stop every "
                            "stockgate-sync, delete the key (DEL " +
                            ledger + ") and run rebuild again");
    }
    // Every SKU is in the change index and moved the snapshot version, and a reservation or an
    // adjustment needs a SKU: with these gone, the partition holds nothing a restore would meet.
    // (One EXISTS for all: they share the partition's slot, also on a cluster.)
    const std::string partition = PartitionPrefix(prefix, p);
    const CommandResult rest =
        redis.Command({"EXISTS", partition + ":changes", partition + ":snapver",
                       partition + ":deadlines", partition + ":parts"});
    if (!rest.ok()) return rest.failure();
    if (!rest->is_integer()) return core::Fail(core::Code::kUnavailable, "EXISTS: " + rest->str);
    if (rest->integer > 0) {
      return core::Fail(core::Code::kInvalidState,
                        "redis already holds keys of " + partition +
                            "; rebuild restores into an empty keyspace only (stop the origins "
                            "and delete the prefix's keys, or FLUSHALL, first)");
    }
  }
  return {};
}

core::Status Restore(RedisClient& redis, std::string_view prefix, const RestoreBatch& batch,
                     std::int64_t now_ms, int partition, int partitions) {
  json doc = {{"stocks", json::array()},      {"reservations", json::array()},
              {"parts", json::array()},       {"directories", json::array()},
              {"adjustments", json::array()}, {"customers", json::array()},
              {"retired", batch.retired}};
  for (const core::StockView& s : batch.stocks) {
    doc["stocks"].push_back({{"sku", std::to_string(s.sku)},
                             {"on_hand", s.on_hand},
                             {"reserved", s.reserved},
                             {"sold", s.sold},
                             {"version", s.version},
                             {"limit", s.per_customer_limit},
                             {"low", s.low_stock_threshold},
                             {"updated_at", s.updated_at_ms}});
  }
  const auto record = [](const core::ReservationView& r) {
    return json{{"order", r.order_id},
                {"status", core::ReservationStatusName(r.status)},
                {"items", FormatItemsField(r.items)},
                {"customer", r.customer_id},
                {"ttl", r.ttl_seconds},
                {"confirm", r.confirm},
                {"expires_at", r.expires_at_ms},
                {"created_at", r.created_at_ms},
                {"updated_at", r.updated_at_ms}};
  };
  for (const core::ReservationView& r : batch.reservations)
    doc["reservations"].push_back(record(r));
  for (const RestoreBatch::Part& p : batch.parts) {
    json j = record(p.part);
    j["request_items"] = FormatItemsField(p.order_items);
    j["request_confirm"] = p.order_confirm;
    doc["parts"].push_back(std::move(j));
  }
  for (const RestoreBatch::Directory& d : batch.directories) {
    json j = record(d.order);
    if (d.single) j["status"] = "single";
    std::string list;
    for (const int p : d.partitions) {
      if (!list.empty()) list += ',';
      list += std::to_string(p);
    }
    j["partitions"] = list;
    doc["directories"].push_back(std::move(j));
  }
  for (const auto& a : batch.adjustments) {
    doc["adjustments"].push_back(
        {{"sku", std::to_string(a.sku)}, {"request_id", a.request_id}, {"delta", a.delta}});
  }
  for (const auto& c : batch.customers) {
    doc["customers"].push_back(
        {{"sku", std::to_string(c.sku)}, {"customer", c.customer}, {"units", c.units}});
  }
  return Answer(
      RunOp(redis, prefix, {"restore", now_ms, "rebuild", {doc.dump()}}, partition, partitions),
      "restore");
}

core::Status FinishRestore(RedisClient& redis, std::string_view prefix, StreamId last_event,
                           std::int64_t now_ms, int partition, int partitions) {
  if (core::Status restored =
          Answer(RunOp(redis, prefix, {"restored", now_ms, "rebuild", {}}, partition, partitions),
                 "restored");
      !restored) {
    return restored;
  }
  const std::string ledger = LedgerKey(prefix, partition);
  const CommandResult group = redis.Command({"XGROUP", "CREATE", ledger, "sync", "0", "MKSTREAM"});
  if (!group.ok()) return group.failure();
  if (group->is_error() && group->str.rfind("BUSYGROUP", 0) != 0) {
    return core::Fail(core::Code::kUnavailable, group->str);
  }
  if (last_event > StreamId{}) {
    const CommandResult set = redis.Command({"XSETID", ledger, last_event.Text()});
    if (!set.ok()) return set.failure();
    if (set->is_error()) return core::Fail(core::Code::kUnavailable, "XSETID: " + set->str);
  }
  return {};
}

}  // namespace stockgate::store
