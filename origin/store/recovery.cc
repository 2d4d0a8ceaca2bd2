#include "origin/store/recovery.h"

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>
#include <utility>

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
RecoveryStatus Answer(const CommandResult& r, const char* script) {
  RecoveryStatus s;
  if (!r.ok) {
    s.code = core::Code::kUnavailable;
    s.error = r.error;
    return s;
  }
  if (!r.reply.is_string()) {
    s.code = core::Code::kUnavailable;
    s.error = std::string(script) + " failed: " + r.reply.str;
    return s;
  }
  const json body = json::parse(r.reply.str, nullptr, false);
  const json& code = At(body, "code");
  if (!code.is_string() || !core::CodeFromName(code.get<std::string>(), &s.code)) {
    s.code = core::Code::kUnavailable;
    s.error = std::string(script) + " answered " + r.reply.str;
    return s;
  }
  s.ok = s.code == core::Code::kOk;
  if (!s.ok && At(body, "message").is_string()) s.error = At(body, "message").get<std::string>();
  return s;
}

}  // namespace

RedisAudit Audit(RedisPool& pool, std::string_view prefix, std::int64_t now_ms) {
  RedisAudit audit;
  const CommandResult r = RunOp(pool, prefix, {"audit", now_ms, "audit", {}});
  if (!r.ok) {
    audit.error = r.error;
    return audit;
  }
  if (!r.reply.is_array() || r.reply.elements.size() != 2 || !r.reply.elements[0].is_string()) {
    audit.error = "audit script failed: " + r.reply.str;
    return audit;
  }
  const json body = json::parse(r.reply.elements[0].str, nullptr, false);
  if (body.is_discarded()) {
    audit.error = "audit script answered malformed JSON";
    return audit;
  }
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
    audit.error = "audit script answered a bad last id";
    return audit;
  }
  for (const Reply& e : r.reply.elements[1].elements) {
    OutboxEntry entry;
    std::string error;
    if (DecodeOutboxEntry(e, &entry, &error)) {
      audit.entries.push_back(std::move(entry));
    } else {
      audit.malformed.push_back((e.elements.empty() ? std::string("?") : e.elements[0].str) + ": " +
                                error);
    }
  }
  audit.ok = true;
  return audit;
}

RecoveryStatus Compensate(RedisPool& pool, std::string_view prefix, const AuditSku& seen,
                          const std::vector<Compensation>& events, std::string_view actor,
                          std::string_view reason, std::int64_t now_ms) {
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
  return Answer(RunOp(pool, prefix, {"compensate", now_ms, std::string(actor), std::move(argv)}),
                "compensate");
}

RecoveryStatus KeyspaceIsEmpty(RedisPool& pool, std::string_view prefix) {
  RecoveryStatus s;
  const std::string ledger = std::string(prefix) + ":ledger";
  std::string cursor = "0";
  do {
    const CommandResult r =
        pool.Command({"SCAN", cursor, "MATCH", std::string(prefix) + ":*", "COUNT", "1000"});
    if (!r.ok || !r.reply.is_array() || r.reply.elements.size() != 2) {
      s.code = core::Code::kUnavailable;
      s.error = r.ok ? "SCAN failed: " + r.reply.str : r.error;
      return s;
    }
    cursor = r.reply.elements[0].str;
    for (const Reply& key : r.reply.elements[1].elements) {
      if (key.str == ledger) {
        // Only a sync process recreates the outbox after a loss, and one still running would
        // sweep restored holds while they are being written (an idle one does not even show as
        // a consumer). So the outbox must be gone, and every sync stopped, before a rebuild.
        s.code = core::Code::kInvalidState;
        s.error = "the outbox " + ledger +
                  " exists: a stockgate-sync ran since the data loss. Stop every stockgate-sync, "
                  "delete the key (DEL " +
                  ledger + ") and run rebuild again";
        return s;
      }
      s.code = core::Code::kInvalidState;
      s.error = "redis already holds " + key.str +
                "; rebuild restores into an empty keyspace only (stop the origins and delete the "
                "prefix's keys, or FLUSHALL, first)";
      return s;
    }
  } while (cursor != "0");
  s.ok = true;
  return s;
}

RecoveryStatus Restore(RedisPool& pool, std::string_view prefix, const RestoreBatch& batch,
                       std::int64_t now_ms) {
  json doc = {{"stocks", json::array()},
              {"reservations", json::array()},
              {"adjustments", json::array()},
              {"customers", json::array()}};
  for (const core::StockView& s : batch.stocks) {
    doc["stocks"].push_back({{"sku", std::to_string(s.sku)},
                             {"on_hand", s.on_hand},
                             {"reserved", s.reserved},
                             {"sold", s.sold},
                             {"version", s.version},
                             {"limit", s.per_customer_limit},
                             {"updated_at", s.updated_at_ms}});
  }
  for (const core::ReservationView& r : batch.reservations) {
    doc["reservations"].push_back({{"order", r.order_id},
                                   {"status", core::ReservationStatusName(r.status)},
                                   {"items", FormatItemsField(r.items)},
                                   {"customer", r.customer_id},
                                   {"ttl", r.ttl_seconds},
                                   {"confirm", r.confirm},
                                   {"expires_at", r.expires_at_ms},
                                   {"created_at", r.created_at_ms},
                                   {"updated_at", r.updated_at_ms}});
  }
  for (const auto& a : batch.adjustments) {
    doc["adjustments"].push_back(
        {{"sku", std::to_string(a.sku)}, {"request_id", a.request_id}, {"delta", a.delta}});
  }
  for (const auto& c : batch.customers) {
    doc["customers"].push_back(
        {{"sku", std::to_string(c.sku)}, {"customer", c.customer}, {"units", c.units}});
  }
  return Answer(RunOp(pool, prefix, {"restore", now_ms, "rebuild", {doc.dump()}}), "restore");
}

RecoveryStatus FinishRestore(RedisPool& pool, std::string_view prefix, StreamId last_event) {
  RecoveryStatus s;
  const std::string ledger = std::string(prefix) + ":ledger";
  const CommandResult group = pool.Command({"XGROUP", "CREATE", ledger, "sync", "0", "MKSTREAM"});
  if (!group.ok || (group.reply.is_error() && group.reply.str.rfind("BUSYGROUP", 0) != 0)) {
    s.code = core::Code::kUnavailable;
    s.error = group.ok ? group.reply.str : group.error;
    return s;
  }
  if (last_event > StreamId{}) {
    const CommandResult set = pool.Command({"XSETID", ledger, last_event.Text()});
    if (!set.ok || set.reply.is_error()) {
      s.code = core::Code::kUnavailable;
      s.error = set.ok ? "XSETID: " + set.reply.str : set.error;
      return s;
    }
  }
  s.ok = true;
  return s;
}

}  // namespace stockgate::store
