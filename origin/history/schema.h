// The MariaDB schema of stockgate's history as versioned migrations (migrations/NNN_name.sql,
// compiled in), applied in order at start by whoever needs the tables. Each applied version is
// recorded in schema_migrations; a named lock keeps concurrent starters from racing, and every
// statement is idempotent, so a start interrupted half-way is simply redone.
#ifndef STOCKGATE_ORIGIN_HISTORY_SCHEMA_H_
#define STOCKGATE_ORIGIN_HISTORY_SCHEMA_H_

#include <string>
#include <string_view>
#include <vector>

#include "origin/history/mysql_config.h"

namespace stockgate::history {

struct Migration {
  int version = 0;
  std::string_view name;
  std::string_view sql;
};

// Every migration, by version.
const std::vector<Migration>& Migrations();

// The statements of a migration script: split at semicolons that end a line, comments dropped.
std::vector<std::string> SplitStatements(std::string_view sql);

// Creates the database if needed and applies the migrations it lacks; the versions it applied.
// A schema already up to date is only read (so a user without DDL rights, as sync's, passes);
// one that is not needs a user that may create and alter tables.
core::Result<std::vector<int>> ApplyMigrations(const MySqlConfig& config);

// The database users of a deployment, each with the rights its part needs on the database and
// nothing else: the origin reads the history, sync writes it, migrations change the schema.
enum class DatabaseRole { kOrigin, kSync, kMigrate };
struct DatabaseUser {
  DatabaseRole role = DatabaseRole::kOrigin;
  std::string password;
};
// stockgate_origin, stockgate_sync, stockgate_migrate.
std::string_view DatabaseUserName(DatabaseRole role);
// Creates each user (from any host) if missing, sets its password, and grants its rights on
// config.database: origin SELECT; sync SELECT, INSERT, UPDATE, DELETE; migrate every right on
// that database alone. Run as an account that may create users (the database's administrator).
// Run over TLS (config.tls_ca set), it makes users that require nothing REQUIRE SSL: they can then
// only connect over TLS. It never loosens a requirement (REQUIRE X509 stays; a run without TLS
// changes none).
core::Status EnsureDatabaseUsers(const MySqlConfig& config, const std::vector<DatabaseUser>& users);

}  // namespace stockgate::history

#endif  // STOCKGATE_ORIGIN_HISTORY_SCHEMA_H_
