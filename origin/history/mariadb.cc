#include "origin/history/mariadb.h"

#include <errmsg.h>
#include <mysql.h>

#include <charconv>
#include <utility>

namespace stockgate::history {

bool QueryResult::transport_error() const {
  // CR_* client errors: connection refused/lost/gone, or a timeout on the socket.
  return error_number >= CR_MIN_ERROR && error_number <= CR_MAX_ERROR;
}

core::Result<std::unique_ptr<MariaDbConnection>> MariaDbConnection::Open(const MySqlConfig& config,
                                                                         bool select_database) {
  MYSQL* mysql = mysql_init(nullptr);
  if (mysql == nullptr) return core::Fail(core::Code::kUnavailable, "mysql_init failed");
  const unsigned connect_timeout = static_cast<unsigned>(std::max(1, config.connect_timeout_s));
  const unsigned read_timeout = static_cast<unsigned>(std::max(1, config.read_timeout_s));
  const unsigned write_timeout = static_cast<unsigned>(std::max(1, config.write_timeout_s));
  const my_bool no = 0;
  mysql_options(mysql, MYSQL_OPT_CONNECT_TIMEOUT, &connect_timeout);
  mysql_options(mysql, MYSQL_OPT_READ_TIMEOUT, &read_timeout);
  mysql_options(mysql, MYSQL_OPT_WRITE_TIMEOUT, &write_timeout);
  mysql_options(mysql, MYSQL_OPT_RECONNECT, &no);  // a reconnect would silently drop a transaction
  mysql_options(mysql, MYSQL_SET_CHARSET_NAME, "utf8mb4");
  if (!config.tls_ca.empty()) {
    // Encrypted, and only to a server whose certificate the CA vouches for, for this host.
    const my_bool yes = 1;
    mysql_optionsv(mysql, MYSQL_OPT_SSL_CA, config.tls_ca.c_str());
    if (!config.tls_cert.empty()) {
      mysql_optionsv(mysql, MYSQL_OPT_SSL_CERT, config.tls_cert.c_str());
      mysql_optionsv(mysql, MYSQL_OPT_SSL_KEY, config.tls_key.c_str());
    }
    mysql_optionsv(mysql, MYSQL_OPT_SSL_ENFORCE, &yes);
    mysql_optionsv(mysql, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &yes);
  }
  const char* socket = config.socket.empty() ? nullptr : config.socket.c_str();
  const char* host = socket ? "localhost" : config.host.c_str();
  if (mysql_real_connect(mysql, host, config.user.c_str(), config.password.c_str(),
                         select_database ? config.database.c_str() : nullptr,
                         static_cast<unsigned>(config.port), socket, 0) == nullptr) {
    core::Error error = core::Fail(core::Code::kUnavailable, mysql_error(mysql));
    mysql_close(mysql);
    return error;
  }
  return std::unique_ptr<MariaDbConnection>(new MariaDbConnection(mysql));
}

MariaDbConnection::~MariaDbConnection() { mysql_close(mysql_); }

QueryResult MariaDbConnection::Query(std::string_view sql) {
  QueryResult r;
  if (mysql_real_query(mysql_, sql.data(), sql.size()) != 0) {
    r.error_number = mysql_errno(mysql_);
    r.error = mysql_error(mysql_);
    broken_ = broken_ || r.transport_error();
    return r;
  }
  MYSQL_RES* res = mysql_store_result(mysql_);
  if (res == nullptr) {
    if (mysql_field_count(mysql_) != 0) {  // a result set was due but could not be read
      r.error_number = mysql_errno(mysql_);
      r.error = mysql_error(mysql_);
      broken_ = broken_ || r.transport_error();
      return r;
    }
    r.ok = true;
    r.affected_rows = mysql_affected_rows(mysql_);
    return r;
  }
  const unsigned fields = mysql_num_fields(res);
  while (MYSQL_ROW row = mysql_fetch_row(res)) {
    const unsigned long* lengths = mysql_fetch_lengths(res);
    Row out;
    out.reserve(fields);
    for (unsigned i = 0; i < fields; ++i) {
      if (row[i] == nullptr) {
        out.emplace_back(std::nullopt);
      } else {
        out.emplace_back(std::string(row[i], lengths[i]));
      }
    }
    r.rows.push_back(std::move(out));
  }
  mysql_free_result(res);
  r.ok = true;
  return r;
}

std::string MariaDbConnection::Quote(std::string_view text) {
  std::string out(text.size() * 2 + 3, '\0');
  out[0] = '\'';
  const unsigned long n =
      mysql_real_escape_string(mysql_, out.data() + 1, text.data(), text.size());
  out.resize(n + 1);
  out += '\'';
  return out;
}

MariaDbPool::MariaDbPool(MySqlConfig config) : config_(std::move(config)) {}
MariaDbPool::~MariaDbPool() = default;

core::Status MariaDbPool::With(const std::function<core::Status(MariaDbConnection&)>& fn) {
  std::unique_ptr<MariaDbConnection> conn;
  {
    std::lock_guard lock(mu_);
    if (Now() < down_until_) {
      return core::Fail(core::Code::kUnavailable, "history database unavailable: " + last_error_);
    }
    if (!idle_.empty()) {
      conn = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  if (!conn) {
    core::Result<std::unique_ptr<MariaDbConnection>> opened =
        MariaDbConnection::Open(config_, true);
    if (!opened) {
      std::lock_guard lock(mu_);
      last_error_ = opened.error();
      down_until_ = Now() + std::chrono::milliseconds(config_.down_for_ms);
      idle_.clear();
      return core::Fail(core::Code::kUnavailable, "history database unavailable: " + last_error_);
    }
    conn = std::move(opened).value();
  }
  core::Status outcome = fn(*conn);
  std::lock_guard lock(mu_);
  if (conn->broken()) {
    last_error_ = "connection lost";
    down_until_ = Now() + std::chrono::milliseconds(config_.down_for_ms);
    // The idle ones were opened before the failure and most likely share it (a restarted server
    // closed them all); reusing them would cost one failed request and one more down window each.
    idle_.clear();
  } else if (static_cast<int>(idle_.size()) < config_.pool_size) {
    idle_.push_back(std::move(conn));
  }
  return outcome;
}

std::int64_t IntOf(const std::optional<std::string>& column) {
  std::int64_t out = 0;
  if (column) std::from_chars(column->data(), column->data() + column->size(), out);
  return out;
}

ReservationRecord ReservationRecordOf(const Row& row) {
  const auto text = [&](std::size_t i) { return i < row.size() ? row[i].value_or("") : ""; };
  const auto number = [&](std::size_t i) { return i < row.size() ? IntOf(row[i]) : 0; };
  ReservationRecord r;
  r.order_id = text(0);
  r.status = text(1);
  r.items = text(2);
  r.customer_id = text(3);
  r.ttl_seconds = number(4);
  r.confirm = number(5) != 0;
  r.expires_at_ms = number(6);
  r.created_at_ms = number(7);
  r.updated_at_ms = number(8);
  return r;
}

std::string JoinInts(const std::vector<std::int64_t>& values) {
  std::string out;
  for (const std::int64_t v : values) {
    if (!out.empty()) out += ',';
    out += std::to_string(v);
  }
  return out;
}

}  // namespace stockgate::history
