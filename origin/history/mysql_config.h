// MySqlConfig: where the MariaDB (or MySQL) history database is and how long to wait for it, as
// the origin and the sync worker both take it: from a URI on the command line
// (mysql://user:password@host:port/database?socket=/path&tls-ca=/path) or from config keys.
// Timeouts are short on purpose: a database that does not answer is reported as unavailable, never
// waited for.
#ifndef STOCKGATE_ORIGIN_HISTORY_MYSQL_CONFIG_H_
#define STOCKGATE_ORIGIN_HISTORY_MYSQL_CONFIG_H_

#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace stockgate::history {

struct MySqlConfig {
  std::string host = "127.0.0.1";
  int port = 3306;
  std::string socket;  // a unix socket path; when set it is used instead of host:port
  std::string user = "root";
  std::string password;  // prefer STOCKGATE_MYSQL_PASSWORD over writing it in a file
  std::string database = "stockgate";
  // TLS to the database: with tls_ca set the connection is encrypted and the server's certificate
  // must chain to this CA file and name the host connected to; a server without TLS is refused.
  // tls_cert/tls_key: a client certificate, for servers that require one (REQUIRE X509).
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  int connect_timeout_s = 1;  // libmariadb takes whole seconds
  int read_timeout_s = 5;
  int write_timeout_s = 5;
  int pool_size = 4;       // connections kept open (readers)
  int down_for_ms = 1000;  // after a failure, answer unavailable at once for this long
  // The clock of that down window; empty: std::chrono::steady_clock::now. Tests inject one.
  std::function<std::chrono::steady_clock::time_point()> now;
};

// Parses mysql://[user[:password]@][host][:port][/database][?PARAMS] over `base`, keeping the
// fields the URI leaves out. PARAMS, joined by '&': socket=PATH, tls-ca=PATH, tls-cert=PATH,
// tls-key=PATH (tls-cert and tls-key together, and only with tls-ca). Percent-escapes in user and
// password are decoded. A bad URI fails with kInvalidRequest and a message naming the part.
core::Result<MySqlConfig> ParseMySqlUri(std::string_view uri, MySqlConfig base = {});

// Whether ParseMySqlUri accepts `uri`, with its message when not.
core::Status CheckMySqlUri(std::string_view uri);

}  // namespace stockgate::history

#endif  // STOCKGATE_ORIGIN_HISTORY_MYSQL_CONFIG_H_
