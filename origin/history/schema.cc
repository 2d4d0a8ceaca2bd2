#include "origin/history/schema.h"

#include <algorithm>
#include <memory>

#include "origin/history/mariadb.h"

namespace stockgate::history {

std::vector<Migration> MigrationSources();  // migrations.cc, generated

const std::vector<Migration>& Migrations() {
  static const std::vector<Migration> all = [] {
    std::vector<Migration> m = MigrationSources();
    std::sort(m.begin(), m.end(),
              [](const Migration& a, const Migration& b) { return a.version < b.version; });
    return m;
  }();
  return all;
}

std::vector<std::string> SplitStatements(std::string_view sql) {
  std::vector<std::string> out;
  std::string current;
  while (!sql.empty()) {
    const auto nl = sql.find('\n');
    std::string_view line = sql.substr(0, nl);
    sql.remove_prefix(nl == std::string_view::npos ? sql.size() : nl + 1);
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string_view::npos || line.substr(first).starts_with("--")) continue;
    const auto last = line.find_last_not_of(" \t\r");
    line = line.substr(0, last + 1);
    const bool ends = line.ends_with(';');
    if (ends) line.remove_suffix(1);
    current += line;
    current += '\n';
    if (ends) {
      out.push_back(std::move(current));
      current.clear();
    }
  }
  if (current.find_first_not_of(" \t\r\n") != std::string::npos) out.push_back(std::move(current));
  return out;
}

core::Result<std::vector<int>> ApplyMigrations(const MySqlConfig& config) {
  core::Result<std::unique_ptr<MariaDbConnection>> opened = MariaDbConnection::Open(config, false);
  if (!opened) {
    return core::Fail(core::Code::kUnavailable, "cannot connect to MariaDB: " + opened.error());
  }
  MariaDbConnection& conn = **opened;
  std::string error;  // the first statement that failed
  auto run = [&](const std::string& sql) {
    QueryResult r = conn.Query(sql);
    if (!r.ok && error.empty()) error = r.error + " in: " + sql;
    return r;
  };
  const auto failed = [&] {
    // An account without DDL rights (sync's own) meets a schema that is not up to date.
    if (error.find("denied") != std::string::npos) {
      error +=
          " (the schema lacks migrations this account may not apply: run stockgate-sync "
          "migrate as the migration account first)";
    }
    return core::Fail(core::Code::kUnavailable, error);
  };
  const std::string db = "`" + config.database + "`";
  // Up to date: nothing to change, and no right to change anything needed.
  if (const QueryResult seen = conn.Query("SELECT COUNT(*) FROM " + db + ".schema_migrations");
      seen.ok && !seen.rows.empty() && seen.rows[0][0] == std::to_string(Migrations().size())) {
    return std::vector<int>{};
  }
  if (!run("CREATE DATABASE IF NOT EXISTS " + db + " CHARACTER SET utf8mb4").ok) return failed();
  if (!run("USE " + db).ok) return failed();
  // Waits less than a read timeout; a caller that gets "held" simply tries again.
  const QueryResult lock = run("SELECT GET_LOCK('stockgate_migrations', 4)");
  if (!lock.ok) return failed();
  if (lock.rows.empty() || lock.rows[0][0] != "1") {
    return core::Fail(core::Code::kUnavailable, "another process holds the migration lock");
  }
  std::vector<int> applied;
  bool ok = run("CREATE TABLE IF NOT EXISTS schema_migrations (version INT NOT NULL PRIMARY KEY, "
                "name VARCHAR(200) NOT NULL, applied_at TIMESTAMP(3) NOT NULL DEFAULT "
                "CURRENT_TIMESTAMP(3)) ENGINE = InnoDB")
                .ok;
  for (const Migration& m : Migrations()) {
    if (!ok) break;
    const QueryResult seen =
        run("SELECT 1 FROM schema_migrations WHERE version = " + std::to_string(m.version));
    if (!seen.ok) break;
    if (!seen.rows.empty()) continue;
    for (const std::string& statement : SplitStatements(m.sql)) {
      if (!run(statement).ok) {
        ok = false;
        break;
      }
    }
    if (!ok) break;
    std::string record = "INSERT INTO schema_migrations (version, name) VALUES (";
    record += std::to_string(m.version);
    record += ", ";
    record += conn.Quote(m.name);
    record += ")";
    if (!run(record).ok) break;
    applied.push_back(m.version);
  }
  conn.Query("SELECT RELEASE_LOCK('stockgate_migrations')");
  if (!error.empty()) return failed();
  return applied;
}

std::string_view DatabaseUserName(DatabaseRole role) {
  switch (role) {
    case DatabaseRole::kOrigin:
      return "stockgate_origin";
    case DatabaseRole::kSync:
      return "stockgate_sync";
    case DatabaseRole::kMigrate:
      return "stockgate_migrate";
  }
  return "";
}

core::Status EnsureDatabaseUsers(const MySqlConfig& config,
                                 const std::vector<DatabaseUser>& users) {
  core::Result<std::unique_ptr<MariaDbConnection>> opened = MariaDbConnection::Open(config, false);
  if (!opened) {
    return core::Fail(core::Code::kUnavailable, "cannot connect to MariaDB: " + opened.error());
  }
  MariaDbConnection& conn = **opened;
  const std::string db = "`" + config.database + "`";
  for (const DatabaseUser& u : users) {
    const std::string account = conn.Quote(DatabaseUserName(u.role)) + "@'%'";
    const char* rights = u.role == DatabaseRole::kOrigin ? "SELECT"
                         : u.role == DatabaseRole::kSync ? "SELECT, INSERT, UPDATE, DELETE"
                                                         : "ALL PRIVILEGES";
    for (const std::string& sql :
         {"CREATE USER IF NOT EXISTS " + account + " IDENTIFIED BY " + conn.Quote(u.password),
          "ALTER USER " + account + " IDENTIFIED BY " + conn.Quote(u.password),
          // Exactly these rights: whatever an earlier grant gave beyond them goes.
          "REVOKE ALL PRIVILEGES, GRANT OPTION FROM " + account,
          "GRANT " + std::string(rights) + " ON " + db + ".* TO " + account}) {
      if (const QueryResult r = conn.Query(sql); !r.ok) {
        // The statement holds the password: name the user, not the statement.
        return core::Fail(
            core::Code::kUnavailable,
            "setting up database user " + std::string(DatabaseUserName(u.role)) + ": " + r.error);
      }
    }
    // Made over TLS (tls-ca): an account that requires nothing yet may from now on connect over
    // TLS only, so a part configured without it is refused instead of talking in the clear. A
    // stricter requirement an operator set (REQUIRE X509 ...) is kept, and nothing is loosened.
    if (!config.tls_ca.empty()) {
      const QueryResult type = conn.Query("SELECT ssl_type FROM mysql.user WHERE User = " +
                                          conn.Quote(DatabaseUserName(u.role)) + " AND Host = '%'");
      const bool none = type.ok && !type.rows.empty() && type.rows[0][0].value_or("").empty();
      if (none && !conn.Query("ALTER USER " + account + " REQUIRE SSL").ok) {
        return core::Fail(core::Code::kUnavailable, "requiring TLS of database user " +
                                                        std::string(DatabaseUserName(u.role)));
      }
    }
  }
  return {};
}

}  // namespace stockgate::history
