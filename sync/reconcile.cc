#include "sync/reconcile.h"

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <utility>

#include "origin/history/mariadb.h"
#include "origin/store/keyspace.h"
#include "origin/store/recovery.h"
#include "origin/store/redis_inventory_store.h"

namespace stockgate::sync {
namespace {

using history::MariaDbConnection;
using history::QueryResult;
using store::OutboxEntry;

std::string Show(const Counters& c) {
  std::ostringstream out;
  out << "on_hand " << c.on_hand << ", reserved " << c.reserved << ", sold " << c.sold;
  return out.str();
}

// The ledger summed per SKU from rows of (sku, op, SUM(qty)).
bool FoldSums(const QueryResult& r, std::map<std::int64_t, Counters>* out) {
  if (!r.ok) return false;
  for (const history::Row& row : r.rows) {
    const auto op = core::LedgerOpFromName(row[1].value_or(""));
    if (!op) return false;
    (*out)[history::IntOf(row[0])] += core::DeltaOf(*op, history::IntOf(row[2]));
  }
  return true;
}

// What MariaDB says, read in one consistent snapshot.
struct MariaDbPicture {
  std::map<std::int64_t, Counters> history_upto;  // events with id <= the audit's last id
  std::map<std::int64_t, Counters> history_all;
  std::map<std::int64_t, Counters> inventory;
  std::set<std::int64_t> present;  // which of the stream's event ids are in the history
  std::int64_t events = 0;
};

// `skus` restricts every query to one partition's SKUs ("" for all).
core::Result<MariaDbPicture> ReadPicture(MariaDbConnection& conn, std::int64_t last_id,
                                         const std::vector<std::int64_t>& stream_ids,
                                         const std::string& skus) {
  const std::string where = skus.empty() ? std::string(" WHERE 1") : " WHERE " + skus;
  MariaDbPicture picture;
  MariaDbPicture* p = &picture;
  auto fail = [](const QueryResult& r) {
    return core::Fail(core::Code::kUnavailable, "mariadb: " + r.error);
  };
  QueryResult r = conn.Query("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY");
  if (!r.ok) return fail(r);
  r = conn.Query("SELECT sku, op, SUM(qty) FROM inventory_history" + where +
                 " AND event_id <= " + std::to_string(last_id) + " GROUP BY sku, op");
  if (!FoldSums(r, &p->history_upto)) return fail(r);
  r = conn.Query("SELECT sku, op, SUM(qty) FROM inventory_history" + where + " GROUP BY sku, op");
  if (!FoldSums(r, &p->history_all)) return fail(r);
  r = conn.Query("SELECT COUNT(*) FROM inventory_history" + where);
  if (!r.ok) return fail(r);
  p->events = r.rows.empty() ? 0 : history::IntOf(r.rows[0][0]);
  r = conn.Query("SELECT sku, on_hand, reserved, sold FROM inventory" + where);
  if (!r.ok) return fail(r);
  for (const history::Row& row : r.rows) {
    p->inventory[history::IntOf(row[0])] = {history::IntOf(row[1]), history::IntOf(row[2]),
                                            history::IntOf(row[3])};
  }
  for (std::size_t i = 0; i < stream_ids.size(); i += 1000) {
    std::vector<std::int64_t> chunk(
        stream_ids.begin() + static_cast<std::ptrdiff_t>(i),
        stream_ids.begin() + static_cast<std::ptrdiff_t>(std::min(stream_ids.size(), i + 1000)));
    r = conn.Query("SELECT event_id FROM inventory_history WHERE event_id IN (" +
                   history::JoinInts(chunk) + ")");
    if (!r.ok) return fail(r);
    for (const history::Row& row : r.rows) p->present.insert(history::IntOf(row[0]));
  }
  conn.Query("COMMIT");
  return picture;
}

// A MariaDB connection for an operator command.
core::Result<std::unique_ptr<MariaDbConnection>> Connect(const history::MySqlConfig& mysql) {
  auto conn = MariaDbConnection::Open(mysql, true);
  if (!conn) return core::Fail(conn.code(), "mariadb: " + conn.error());
  return conn;
}

}  // namespace

std::string Drift::Describe() const {
  std::ostringstream out;
  out << "sku " << sku << ": ";
  switch (kind) {
    case Kind::kRedisVsLedger:
      out << "redis has " << Show(actual) << "; the ledger sums to " << Show(expected);
      break;
    case Kind::kInventoryVsHistory:
      out << "mariadb inventory has " << Show(actual) << "; its history sums to " << Show(expected);
      break;
    case Kind::kReservedVsHolds:
      out << "redis reserved is " << actual.reserved << " but live holds hold "
          << expected.reserved;
      break;
    case Kind::kMalformedEntry:
      out << "unreadable outbox entry " << detail;
      break;
  }
  return out.str();
}

namespace {

// One partition: its SKUs' Redis counters, stream and holds against their history.
core::Status CheckPartition(store::RedisClient& redis, const std::string& prefix,
                            MariaDbConnection& conn, std::int64_t now_ms, int partition,
                            int partitions, CheckReport* out) {
  CheckReport& report = *out;
  // Redis first: every event counted by its counters is then either still in the stream or
  // already committed to the history, which is read afterwards and cut at the same last id.
  const core::Result<store::RedisAudit> audited =
      store::Audit(redis, prefix, now_ms, partition, partitions);
  if (!audited) return audited.failure();
  const store::RedisAudit& audit = *audited;
  std::vector<std::int64_t> stream_ids;
  for (const OutboxEntry& e : audit.entries) {
    for (const store::LedgerRecord& event : e.events) stream_ids.push_back(event.id.Packed());
  }
  const std::string filter = partitions == 1 ? std::string()
                                             : "MOD(sku, " + std::to_string(partitions) +
                                                   ") = " + std::to_string(partition);
  core::Result<MariaDbPicture> picture =
      ReadPicture(conn, audit.last_id.Packed(), stream_ids, filter);
  if (!picture) return picture.failure();
  MariaDbPicture& db = *picture;

  std::map<std::int64_t, Counters> ledger = db.history_upto;
  for (const OutboxEntry& e : audit.entries) {
    for (const store::LedgerRecord& event : e.events) {
      if (db.present.count(event.id.Packed())) continue;
      ledger[event.sku] += core::DeltaOf(event.op, event.qty);
      ++report.stream_events;
    }
  }
  std::map<std::int64_t, Counters> redis_counters;
  for (const store::AuditSku& s : audit.skus) {
    redis_counters[s.sku] = {s.on_hand, s.reserved, s.sold};
  }
  std::set<std::int64_t> skus;
  for (const auto& [sku, c] : redis_counters) skus.insert(sku);
  for (const auto& [sku, c] : ledger) skus.insert(sku);
  for (const std::int64_t sku : skus) {
    const Counters actual = redis_counters.count(sku) ? redis_counters[sku] : Counters{};
    const Counters expected = ledger.count(sku) ? ledger[sku] : Counters{};
    if (!(actual == expected)) {
      report.drifts.push_back({Drift::Kind::kRedisVsLedger, sku, actual, expected, ""});
    }
    const std::int64_t held = audit.held.count(sku) ? audit.held.at(sku) : 0;
    if (actual.reserved != held) {
      report.drifts.push_back(
          {Drift::Kind::kReservedVsHolds, sku, {0, actual.reserved, 0}, {0, held, 0}, ""});
    }
  }
  std::set<std::int64_t> db_skus;
  for (const auto& [sku, c] : db.inventory) db_skus.insert(sku);
  for (const auto& [sku, c] : db.history_all) db_skus.insert(sku);
  for (const std::int64_t sku : db_skus) {
    const Counters actual = db.inventory.count(sku) ? db.inventory[sku] : Counters{};
    const Counters expected = db.history_all.count(sku) ? db.history_all[sku] : Counters{};
    if (!(actual == expected)) {
      report.drifts.push_back({Drift::Kind::kInventoryVsHistory, sku, actual, expected, ""});
    }
  }
  for (const std::string& m : audit.malformed) {
    report.drifts.push_back({Drift::Kind::kMalformedEntry, 0, {}, {}, m});
  }
  report.skus += static_cast<std::int64_t>(skus.size());
  report.history_events += db.events;
  report.live_holds += audit.live_holds;
  return {};
}

}  // namespace

core::Result<CheckReport> Check(store::RedisClient& redis, const std::string& prefix,
                                const history::MySqlConfig& mysql, std::int64_t now_ms,
                                int partitions) {
  auto conn = Connect(mysql);
  if (!conn) return conn.failure();
  CheckReport report;
  for (int p = 0; p < partitions; ++p) {
    if (const core::Status s =
            CheckPartition(redis, prefix, **conn, now_ms, p, partitions, &report);
        !s) {
      return s.failure();
    }
  }
  return report;
}

core::Result<RepairReport> Repair(store::RedisClient& redis, const std::string& prefix,
                                  const history::MySqlConfig& mysql, const std::string& actor,
                                  std::int64_t now_ms, int partitions) {
  RepairReport report;
  const core::Result<CheckReport> check = Check(redis, prefix, mysql, now_ms, partitions);
  if (!check) return check.failure();
  // A failure part-way says what was fixed and what was left before it.
  const auto failed = [&report](core::Code code, const std::string& why) {
    std::string message = why;
    for (const std::string& a : report.actions) message += "\nrepaired before the failure: " + a;
    for (const Drift& d : report.unrepaired) {
      message += "\nnot repaired (needs an operator): " + d.Describe();
    }
    return core::Fail(code, std::move(message));
  };
  std::unique_ptr<MariaDbConnection> conn;
  for (const Drift& d : check->drifts) {
    if (d.kind == Drift::Kind::kRedisVsLedger) {
      // d = redis - ledger, explained by events whose replay moves the ledger by exactly d:
      // return moves sold (and on_hand back), reserve moves reserved, adjust the rest of on_hand.
      const Counters diff{d.actual.on_hand - d.expected.on_hand,
                          d.actual.reserved - d.expected.reserved, d.actual.sold - d.expected.sold};
      std::vector<store::Compensation> events;
      if (diff.sold != 0) events.push_back({core::LedgerOp::kReturn, -diff.sold});
      if (diff.reserved != 0) events.push_back({core::LedgerOp::kReserve, diff.reserved});
      if (diff.on_hand + diff.sold != 0) {
        events.push_back({core::LedgerOp::kAdjust, diff.on_hand + diff.sold});
      }
      store::AuditSku seen;
      seen.sku = d.sku;
      seen.on_hand = d.actual.on_hand;
      seen.reserved = d.actual.reserved;
      seen.sold = d.actual.sold;
      const core::Status s = store::Compensate(redis, prefix, seen, events, actor,
                                               "repair: " + d.Describe(), now_ms, partitions);
      if (!s) return failed(s.code(), "sku " + std::to_string(d.sku) + ": " + s.error());
      report.actions.push_back("appended " + std::to_string(events.size()) +
                               " compensating ledger event(s) for " + d.Describe());
    } else if (d.kind == Drift::Kind::kInventoryVsHistory) {
      // The inventory row is derived from the history; recompute it from the history inside one
      // transaction, so concurrent ingest cannot slip between the sum and the update.
      if (!conn) {
        auto opened = Connect(mysql);
        if (!opened) return failed(opened.code(), opened.error());
        conn = std::move(opened).value();
      }
      const std::string sku = std::to_string(d.sku);
      std::string failure;
      auto run = [&](const std::string& sql) {
        QueryResult r = conn->Query(sql);
        if (!r.ok && failure.empty()) failure = r.error;
        return r;
      };
      run("START TRANSACTION");
      run("SELECT sku FROM inventory WHERE sku = " + sku + " FOR UPDATE");
      std::map<std::int64_t, Counters> sums;
      FoldSums(run("SELECT sku, op, SUM(qty) FROM inventory_history WHERE sku = " + sku +
                   " GROUP BY sku, op"),
               &sums);
      const Counters c = sums[d.sku];
      run("INSERT INTO inventory (sku, on_hand, reserved, sold) VALUES (" + sku + "," +
          std::to_string(c.on_hand) + "," + std::to_string(c.reserved) + "," +
          std::to_string(c.sold) +
          ") ON DUPLICATE KEY UPDATE on_hand = VALUES(on_hand), reserved = VALUES(reserved), "
          "sold = VALUES(sold)");
      if (!failure.empty()) {
        conn->Query("ROLLBACK");
        return failed(core::Code::kUnavailable, "mariadb: " + failure);
      }
      run("COMMIT");
      report.actions.push_back("recomputed the mariadb inventory row from its history: " +
                               d.Describe() + " -> " + Show(c));
    } else {
      report.unrepaired.push_back(d);
    }
  }
  return report;
}

core::Result<RebuildReport> Rebuild(store::RedisClient& redis, const std::string& prefix,
                                    const history::MySqlConfig& mysql, std::int64_t now_ms,
                                    int partitions, std::int64_t retention_ms) {
  RebuildReport report;
  if (const core::Status empty = store::KeyspaceIsEmpty(redis, prefix, partitions); !empty) {
    return empty.failure();
  }
  // The restored keyspace has this many partitions from now on (recorded while it is empty).
  if (const core::Status count = store::CheckPartitionCount(redis, prefix, partitions); !count) {
    return count.failure();
  }
  auto conn = Connect(mysql);
  if (!conn) return conn.failure();
  std::string failure;
  auto run = [&](const std::string& sql) {
    QueryResult r = (*conn)->Query(sql);
    if (!r.ok && failure.empty()) failure = r.error;
    return r;
  };
  run("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY");
  const QueryResult stocks =
      run("SELECT sku, on_hand, reserved, sold, version, per_customer_limit, updated_at_ms, "
          "limit_event, low_stock_threshold FROM inventory ORDER BY sku");
  const QueryResult reservations = run(std::string("SELECT ") + history::kReservationColumns +
                                       ", last_event FROM reservations ORDER BY order_id");
  const std::string repair_ref = kRepairRef;
  const QueryResult adjustments =
      run("SELECT sku, ref, qty FROM inventory_history WHERE op = 'adjust' AND ref <> '" +
          repair_ref + "'");
  const QueryResult last = run("SELECT COALESCE(MAX(event_id), 0) FROM inventory_history");
  std::map<std::int64_t, Counters> history;
  FoldSums(run("SELECT sku, op, SUM(qty) FROM inventory_history GROUP BY sku, op"), &history);
  run("COMMIT");
  if (!failure.empty()) return core::Fail(core::Code::kUnavailable, "mariadb: " + failure);

  std::int64_t last_event = last.rows.empty() ? 0 : history::IntOf(last.rows[0][0]);
  // One batch per partition, each restored into its partition.
  std::vector<store::RestoreBatch> batches(static_cast<std::size_t>(partitions));
  auto batch_of = [&](int partition) -> store::RestoreBatch& {
    return batches[static_cast<std::size_t>(partition)];
  };
  auto of_sku = [&](std::int64_t sku) -> store::RestoreBatch& {
    return batch_of(store::SkuPartition(sku, partitions));
  };
  std::map<std::int64_t, std::int64_t> held;
  std::map<std::pair<std::int64_t, std::string>, std::int64_t> customer_units;
  // A failure part-way carries the warnings found before it.
  const auto failed = [&report](core::Code code, const std::string& why) {
    std::string message = why;
    for (const std::string& w : report.warnings) message += "\nwarning: " + w;
    return core::Fail(code, std::move(message));
  };
  std::optional<core::Error> restore_failed;
  auto flush = [&](bool force) {
    for (int p = 0; p < partitions; ++p) {
      store::RestoreBatch& batch = batch_of(p);
      const std::size_t n = batch.stocks.size() + batch.reservations.size() + batch.parts.size() +
                            batch.directories.size() + batch.adjustments.size() +
                            batch.customers.size() + batch.retired.size();
      if (n == 0 || (!force && n < 500)) continue;
      const core::Status s = store::Restore(redis, prefix, batch, now_ms, p, partitions);
      if (!s) {
        restore_failed = failed(s.code(), "restore: " + s.error());
        return false;
      }
      batch = {};
    }
    return true;
  };
  for (const history::Row& row : stocks.rows) {
    core::StockView s;
    s.sku = history::IntOf(row[0]);
    s.on_hand = history::IntOf(row[1]);
    s.reserved = history::IntOf(row[2]);
    s.sold = history::IntOf(row[3]);
    s.version = history::IntOf(row[4]);
    s.per_customer_limit = history::IntOf(row[5]);
    s.updated_at_ms = history::IntOf(row[6]);
    last_event = std::max(last_event, history::IntOf(row[7]));
    s.low_stock_threshold = history::IntOf(row[8]);
    const Counters c{s.on_hand, s.reserved, s.sold};
    if (!(history[s.sku] == c)) {
      report.warnings.push_back("sku " + std::to_string(s.sku) +
                                ": the inventory row differs from its history (run check)");
    }
    of_sku(s.sku).stocks.push_back(s);
    ++report.skus;
    if (!flush(false)) return *restore_failed;
  }
  for (const history::Row& row : reservations.rows) {
    core::Result<core::ReservationView> view =
        store::ViewOfRecord(history::ReservationRecordOf(row));
    if (!view) return failed(core::Code::kInvalidState, view.error());
    core::ReservationView r = std::move(view).value();
    last_event = std::max(last_event, history::IntOf(row[9]));
    const bool live = r.status == core::ReservationStatus::kReserved;
    const bool counts = live || r.status == core::ReservationStatus::kConfirmed;
    for (const core::Item& item : r.items) {
      if (live) held[item.sku] += item.qty;
      if (counts && !r.customer_id.empty()) customer_units[{item.sku, r.customer_id}] += item.qty;
    }
    report.live_holds += live ? 1 : 0;
    if (!live && retention_ms > 0 && r.updated_at_ms <= now_ms - retention_ms) {
      ++report.past_retention;
      batch_of(store::HomePartition(r.order_id, partitions)).retired.push_back(r.order_id);
      if (!flush(false)) return *restore_failed;
      continue;
    }
    // Where the store keeps it (store::PlaceOrder, as the reservation was made).
    const store::OrderPlacement place =
        store::PlaceOrder(r.order_id, r.items, r.confirm, partitions);
    const int first = place.parts.front().partition;
    if (place.kind == store::OrderPlacement::Kind::kHome) {
      batch_of(first).reservations.push_back(std::move(r));
    } else if (place.kind == store::OrderPlacement::Kind::kElsewhere) {
      batch_of(place.home).directories.push_back({r, true, {first}});
      batch_of(first).reservations.push_back(std::move(r));
    } else {
      store::RestoreBatch::Directory d{r, false, {}};
      for (const store::OrderPart& part : place.parts) {
        d.partitions.push_back(part.partition);
        core::ReservationView piece = r;
        piece.items = part.items;
        piece.confirm = false;
        batch_of(part.partition).parts.push_back({std::move(piece), r.items, r.confirm});
      }
      batch_of(place.home).directories.push_back(std::move(d));
    }
    ++report.reservations;
    if (!flush(false)) return *restore_failed;
  }
  for (const history::Row& row : adjustments.rows) {
    of_sku(history::IntOf(row[0]))
        .adjustments.push_back(
            {history::IntOf(row[0]), row[1].value_or(""), history::IntOf(row[2])});
    ++report.adjustments;
    if (!flush(false)) return *restore_failed;
  }
  for (const auto& [key, units] : customer_units) {
    of_sku(key.first).customers.push_back({key.first, key.second, units});
    if (!flush(false)) return *restore_failed;
  }
  if (!flush(true)) return *restore_failed;
  for (const history::Row& row : stocks.rows) {
    const std::int64_t sku = history::IntOf(row[0]);
    if (history::IntOf(row[2]) != held[sku]) {
      report.warnings.push_back("sku " + std::to_string(sku) + ": reserved " +
                                std::to_string(history::IntOf(row[2])) + " but live holds hold " +
                                std::to_string(held[sku]));
    }
  }
  // Every partition's new ids after the whole history's (each partition takes its own block of
  // sequence numbers after that; lua/common.lua).
  const store::StreamId last_id = store::StreamId::FromPacked(last_event);
  for (int p = 0; p < partitions; ++p) {
    if (const core::Status finish =
            store::FinishRestore(redis, prefix, last_id, now_ms, p, partitions);
        !finish) {
      return failed(finish.code(), "finish: " + finish.error());
    }
  }
  report.last_event = last_id.Text();
  return report;
}

}  // namespace stockgate::sync
