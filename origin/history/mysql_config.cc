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

bool ParseMySqlUri(std::string_view uri, MySqlConfig* out, std::string* error) {
  constexpr std::string_view kScheme = "mysql://";
  constexpr std::string_view kMariaScheme = "mariadb://";
  if (uri.starts_with(kScheme)) {
    uri.remove_prefix(kScheme.size());
  } else if (uri.starts_with(kMariaScheme)) {
    uri.remove_prefix(kMariaScheme.size());
  } else {
    *error = "a MySQL URI starts with mysql:// (or mariadb://)";
    return false;
  }
  MySqlConfig c = *out;
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
      *error = "bad percent-escape in the user name";
      return false;
    }
    if (colon != std::string_view::npos &&
        !PercentDecode(userinfo.substr(colon + 1), &c.password)) {
      *error = "bad percent-escape in the password";
      return false;
    }
  }
  if (const auto colon = uri.rfind(':'); colon != std::string_view::npos) {
    const std::string_view port = uri.substr(colon + 1);
    int p = 0;
    const auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (ec != std::errc() || ptr != port.data() + port.size() || p < 1 || p > 65535) {
      *error = "bad port in MySQL URI: ";
      *error += port;
      return false;
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
        *error = "database names here are letters, digits, _ and $";
        return false;
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
      *error = "bad query parameter in MySQL URI: ";
      *error += pair;
      return false;
    }
    if (key == "socket") {
      c.socket = value;
    } else {
      *error = "unknown MySQL URI parameter: ";
      *error += key;
      return false;
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  *out = std::move(c);
  return true;
}

std::string MySqlUriProblem(std::string_view uri) {
  MySqlConfig parsed;
  std::string error;
  return ParseMySqlUri(uri, &parsed, &error) ? std::string() : error;
}

}  // namespace stockgate::history
