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
core::Result<std::vector<int>> ApplyMigrations(const MySqlConfig& config);

}  // namespace stockgate::history

#endif  // STOCKGATE_ORIGIN_HISTORY_SCHEMA_H_
