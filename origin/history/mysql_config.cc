#include "origin/history/mysql_config.h"

#include <charconv>

namespace stockgate::history {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool PercentDecode(std::string_view in, std::string* out) {
  out->clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      *out += in[i];
      continue;
    }
    if (i + 2 >= in.size()) return false;
    const int hi = HexValue(in[i + 1]);
    const int lo = HexValue(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    *out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return true;
}

}  // namespace

core::Result<MySqlConfig> ParseMySqlUri(std::string_view uri, MySqlConfig c) {
  const auto bad = [](std::string why) {
    return core::Fail(core::Code::kInvalidRequest, std::move(why));
  };
  constexpr std::string_view kScheme = "mysql://";
  constexpr std::string_view kMariaScheme = "mariadb://";
  if (uri.starts_with(kScheme)) {
    uri.remove_prefix(kScheme.size());
  } else if (uri.starts_with(kMariaScheme)) {
    uri.remove_prefix(kMariaScheme.size());
  } else {
    return bad("a MySQL URI starts with mysql:// (or mariadb://)");
  }
  std::string_view query;
  if (const auto q = uri.find('?'); q != std::string_view::npos) {
    query = uri.substr(q + 1);
    uri = uri.substr(0, q);
  }
  std::string_view path;
  if (const auto slash = uri.find('/'); slash != std::string_view::npos) {
    path = uri.substr(slash + 1);
    uri = uri.substr(0, slash);
  }
  if (const auto at = uri.rfind('@'); at != std::string_view::npos) {
    const std::string_view userinfo = uri.substr(0, at);
    uri = uri.substr(at + 1);
    const auto colon = userinfo.find(':');
    if (!PercentDecode(userinfo.substr(0, colon), &c.user)) {
      return bad("bad percent-escape in the user name");
    }
    if (colon != std::string_view::npos &&
        !PercentDecode(userinfo.substr(colon + 1), &c.password)) {
      return bad("bad percent-escape in the password");
    }
  }
  if (const auto colon = uri.rfind(':'); colon != std::string_view::npos) {
    const std::string_view port = uri.substr(colon + 1);
    int p = 0;
    const auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (ec != std::errc() || ptr != port.data() + port.size() || p < 1 || p > 65535) {
      return bad("bad port in MySQL URI: " + std::string(port));
    }
    c.port = p;
    uri = uri.substr(0, colon);
  }
  if (!uri.empty()) c.host = std::string(uri);
  if (!path.empty()) {
    for (const char ch : path) {
      const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                      (ch >= '0' && ch <= '9') || ch == '_' || ch == '$';
      if (!ok) {
        return bad("database names here are letters, digits, _ and $");
      }
    }
    c.database = std::string(path);
  }
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const auto eq = pair.find('=');
    const std::string_view key = pair.substr(0, eq);
    std::string value;
    if (eq == std::string_view::npos || !PercentDecode(pair.substr(eq + 1), &value)) {
      return bad("bad query parameter in MySQL URI: " + std::string(pair));
    }
    if (key == "socket") {
      c.socket = value;
    } else if (key == "tls-ca") {
      c.tls_ca = value;
    } else if (key == "tls-cert") {
      c.tls_cert = value;
    } else if (key == "tls-key") {
      c.tls_key = value;
    } else {
      return bad("unknown MySQL URI parameter: " + std::string(key));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  if (c.tls_cert.empty() != c.tls_key.empty()) {
    return bad("tls-cert and tls-key go together in a MySQL URI");
  }
  if (!c.tls_cert.empty() && c.tls_ca.empty()) {
    return bad("tls-cert needs tls-ca in a MySQL URI (the server's CA, to verify it)");
  }
  return c;
}

core::Status CheckMySqlUri(std::string_view uri) {
  core::Result<MySqlConfig> parsed = ParseMySqlUri(uri);
  if (!parsed) return parsed.failure();
  return {};
}

}  // namespace stockgate::history
