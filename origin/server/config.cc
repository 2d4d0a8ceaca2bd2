#include "origin/server/config.h"

#include <toml++/toml.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>
#include <utility>

#include "origin/history/mysql_config.h"
#include "origin/log/log.h"
#include "origin/server/jwt_auth.h"

namespace stockgate::server {
namespace {

constexpr int kMaxThreads = 1024;
// A longer secret adds nothing to HMAC-SHA256 and is more likely a pasted file by mistake.
constexpr std::size_t kMaxJwtSecretBytes = 4096;

enum class Kind { kInt, kDouble, kBool, kString, kHostPort };

// A value already parsed to the key's kind.
struct Value {
  std::int64_t i = 0;
  double d = 0;
  bool b = false;
  std::string s;
  HostPort host_port;
};

// One row of the key table: how the key is spelled in each source, what it accepts, where it goes.
struct KeySpec {
  std::string_view key = {};
  std::string_view env = {};
  std::string_view flag = {};        // "" when the key has no flag
  std::string_view flag_help = {};   // "Address to serve HTTP on"
  std::string_view flag_value = {};  // the value's name in --help: "HOST:PORT", "N"
  Kind kind = Kind::kString;
  std::int64_t min_int = 0;  // kInt bounds, inclusive
  std::int64_t max_int = 0;
  double min_double = 0;  // kDouble bounds, inclusive
  double max_double = 0;
  // kString: "" when acceptable, else the reason.
  std::string (*check)(std::string_view) = nullptr;
  void (*apply)(OriginConfig&, const Value&) = nullptr;
};

std::string CheckLogLevel(std::string_view level) {
  return log::ParseLevel(level) ? std::string() : log::LevelError();
}

std::string CheckRequestLog(std::string_view value) {
  if (value == "all" || value == "errors" || value == "none") return {};
  return "must be all, errors or none";
}

// The prefix starts every Redis key; the store puts the SKU in a {hash tag} after it, so braces
// here would move keys to the wrong cluster slot.
std::string CheckKeyPrefix(std::string_view prefix) {
  const bool ok_chars = std::all_of(prefix.begin(), prefix.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == ':' || c == '-';
  });
  if (!prefix.empty() && prefix.size() <= 32 && ok_chars) return {};
  return "must be 1..32 characters of [A-Za-z0-9._:-]";
}

std::string CheckMySqlUri(std::string_view uri) {
  if (uri.empty()) return {};  // history off
  history::MySqlConfig parsed;
  std::string error;
  if (history::ParseMySqlUri(uri, &parsed, &error)) return {};
  return error;
}

std::string CheckSecretLength(std::string_view secret) {
  if (secret.size() <= kMaxJwtSecretBytes) return {};
  return "must be at most " + std::to_string(kMaxJwtSecretBytes) + " bytes";
}

// Rates and bursts: 0 rate turns a group's limit off; a bucket holds at least one request.
KeySpec RateKey(std::string_view key, std::string_view env, double min,
                void (*apply)(OriginConfig&, const Value&)) {
  return {.key = key,
          .env = env,
          .kind = Kind::kDouble,
          .min_double = min,
          .max_double = 1e9,
          .apply = apply};
}

// Order = the example file's order. Env names are "STOCKGATE_" + the key upper-cased with '.' as
// '_' (a test holds the table to that rule).
const std::vector<KeySpec>& Specs() {
  static const std::vector<KeySpec> specs = {
      {.key = "listen",
       .env = "STOCKGATE_LISTEN",
       .flag = "--listen",
       .flag_help = "Address to serve HTTP on",
       .flag_value = "HOST:PORT",
       .kind = Kind::kHostPort,
       .apply =
           [](OriginConfig& c, const Value& v) {
             c.listen_host = v.host_port.host;
             c.listen_port = v.host_port.port;
           }},
      {.key = "threads",
       .env = "STOCKGATE_THREADS",
       .flag = "--threads",
       .flag_help = "HTTP event-loop threads (0: one per hardware thread)",
       .flag_value = "N",
       .kind = Kind::kInt,
       .min_int = 0,
       .max_int = kMaxThreads,
       .apply = [](OriginConfig& c, const Value& v) { c.threads = static_cast<int>(v.i); }},
      {.key = "read_timeout_ms",
       .env = "STOCKGATE_READ_TIMEOUT_MS",
       .kind = Kind::kInt,
       .min_int = 1,
       .max_int = 600'000,
       .apply = [](OriginConfig& c, const Value& v) { c.read_timeout_ms = static_cast<int>(v.i); }},
      {.key = "write_timeout_ms",
       .env = "STOCKGATE_WRITE_TIMEOUT_MS",
       .kind = Kind::kInt,
       .min_int = 1,
       .max_int = 600'000,
       .apply = [](OriginConfig& c,
                   const Value& v) { c.write_timeout_ms = static_cast<int>(v.i); }},
      {.key = "keep_alive_max_count",
       .env = "STOCKGATE_KEEP_ALIVE_MAX_COUNT",
       .kind = Kind::kInt,
       .min_int = 1,
       .max_int = 10'000'000,
       .apply = [](OriginConfig& c,
                   const Value& v) { c.keep_alive_max_count = static_cast<int>(v.i); }},
      {.key = "redis",
       .env = "STOCKGATE_REDIS",
       .flag = "--redis",
       .flag_help = "Address of Redis",
       .flag_value = "HOST:PORT",
       .kind = Kind::kHostPort,
       .apply =
           [](OriginConfig& c, const Value& v) {
             c.redis_host = v.host_port.host;
             c.redis_port = v.host_port.port;
           }},
      {.key = "redis_pool_size",
       .env = "STOCKGATE_REDIS_POOL_SIZE",
       .kind = Kind::kInt,
       .min_int = 1,
       .max_int = 1024,
       .apply = [](OriginConfig& c, const Value& v) { c.redis_pool_size = static_cast<int>(v.i); }},
      {.key = "redis_connect_timeout_ms",
       .env = "STOCKGATE_REDIS_CONNECT_TIMEOUT_MS",
       .kind = Kind::kInt,
       .min_int = 1,
       .max_int = 60'000,
       .apply = [](OriginConfig& c,
                   const Value& v) { c.redis_connect_timeout_ms = static_cast<int>(v.i); }},
      {.key = "redis_command_timeout_ms",
       .env = "STOCKGATE_REDIS_COMMAND_TIMEOUT_MS",
       .kind = Kind::kInt,
       .min_int = 1,
       .max_int = 60'000,
       .apply = [](OriginConfig& c,
                   const Value& v) { c.redis_command_timeout_ms = static_cast<int>(v.i); }},
      {.key = "redis_key_prefix",
       .env = "STOCKGATE_REDIS_KEY_PREFIX",
       .kind = Kind::kString,
       .check = CheckKeyPrefix,
       .apply = [](OriginConfig& c, const Value& v) { c.redis_key_prefix = v.s; }},
      {.key = "mysql",
       .env = "STOCKGATE_MYSQL",
       .flag = "--mysql",
       .flag_help = "History database (MariaDB); \"\" turns the history routes off",
       .flag_value = "mysql://USER@HOST:PORT/DB",
       .kind = Kind::kString,
       .check = CheckMySqlUri,
       .apply = [](OriginConfig& c, const Value& v) { c.mysql_uri = v.s; }},
      {.key = "jwt_secret",
       .env = "STOCKGATE_JWT_SECRET",
       .kind = Kind::kString,
       .check = CheckSecretLength,
       .apply = [](OriginConfig& c, const Value& v) { c.jwt_secret = v.s; }},
      {.key = "jwt_jwks_file",
       .env = "STOCKGATE_JWT_JWKS_FILE",
       .kind = Kind::kString,
       .apply = [](OriginConfig& c, const Value& v) { c.jwt_jwks_file = v.s; }},
      {.key = "public_stock_reads",
       .env = "STOCKGATE_PUBLIC_STOCK_READS",
       .kind = Kind::kBool,
       .apply = [](OriginConfig& c, const Value& v) { c.public_stock_reads = v.b; }},
      {.key = "max_adjustment",
       .env = "STOCKGATE_MAX_ADJUSTMENT",
       .kind = Kind::kInt,
       .min_int = 1,
       .max_int = core::kMaxOnHand,
       .apply = [](OriginConfig& c, const Value& v) { c.max_adjustment = v.i; }},
      {.key = "log_level",
       .env = "STOCKGATE_LOG_LEVEL",
       .flag = "--log-level",
       .flag_help = "trace, debug, info, warn, error, critical or off",
       .flag_value = "LEVEL",
       .kind = Kind::kString,
       .check = CheckLogLevel,
       .apply = [](OriginConfig& c, const Value& v) { c.log_level = v.s; }},
      {.key = "log_requests",
       .env = "STOCKGATE_LOG_REQUESTS",
       .kind = Kind::kString,
       .check = CheckRequestLog,
       .apply = [](OriginConfig& c, const Value& v) { c.log_requests = v.s; }},
      {.key = "rate_limits.client_capacity",
       .env = "STOCKGATE_RATE_LIMITS_CLIENT_CAPACITY",
       .kind = Kind::kInt,
       .min_int = 1,
       .max_int = 10'000'000,
       .apply =
           [](OriginConfig& c, const Value& v) {
             c.rate_limits.client_capacity = static_cast<std::uint32_t>(v.i);
           }},
      RateKey("rate_limits.reservations.rate_per_second",
              "STOCKGATE_RATE_LIMITS_RESERVATIONS_RATE_PER_SECOND", 0,
              [](OriginConfig& c, const Value& v) {
                c.rate_limits.reservations.rate_per_second = v.d;
              }),
      RateKey("rate_limits.reservations.burst", "STOCKGATE_RATE_LIMITS_RESERVATIONS_BURST", 1,
              [](OriginConfig& c, const Value& v) { c.rate_limits.reservations.burst = v.d; }),
      RateKey("rate_limits.reads.rate_per_second", "STOCKGATE_RATE_LIMITS_READS_RATE_PER_SECOND", 0,
              [](OriginConfig& c, const Value& v) { c.rate_limits.reads.rate_per_second = v.d; }),
      RateKey("rate_limits.reads.burst", "STOCKGATE_RATE_LIMITS_READS_BURST", 1,
              [](OriginConfig& c, const Value& v) { c.rate_limits.reads.burst = v.d; }),
      RateKey("rate_limits.admin.rate_per_second", "STOCKGATE_RATE_LIMITS_ADMIN_RATE_PER_SECOND", 0,
              [](OriginConfig& c, const Value& v) { c.rate_limits.admin.rate_per_second = v.d; }),
      RateKey("rate_limits.admin.burst", "STOCKGATE_RATE_LIMITS_ADMIN_BURST", 1,
              [](OriginConfig& c, const Value& v) { c.rate_limits.admin.burst = v.d; }),
  };
  return specs;
}

const KeySpec* FindSpec(std::string_view key) {
  for (const KeySpec& spec : Specs()) {
    if (spec.key == key) return &spec;
  }
  return nullptr;
}

// True when `path` names a table that holds keys ("rate_limits", "rate_limits.reads").
bool IsTablePath(std::string_view path) {
  for (const KeySpec& spec : Specs()) {
    if (spec.key.size() > path.size() && spec.key.starts_with(path) &&
        spec.key[path.size()] == '.') {
      return true;
    }
  }
  return false;
}

std::string FormatNumber(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

std::string IntBounds(const KeySpec& spec) {
  return "must be an integer in " + std::to_string(spec.min_int) + ".." +
         std::to_string(spec.max_int);
}

std::string DoubleBounds(const KeySpec& spec) {
  return "must be a number in " + FormatNumber(spec.min_double) + ".." +
         FormatNumber(spec.max_double);
}

// Range and content checks shared by every source; "" when `value` is acceptable.
std::string CheckValue(const KeySpec& spec, const Value& value) {
  switch (spec.kind) {
    case Kind::kInt:
      if (value.i < spec.min_int || value.i > spec.max_int) return IntBounds(spec);
      return {};
    case Kind::kDouble:
      // Written so that NaN fails too.
      if (!(value.d >= spec.min_double && value.d <= spec.max_double)) return DoubleBounds(spec);
      return {};
    case Kind::kString:
      return spec.check ? spec.check(value.s) : std::string();
    case Kind::kBool:
    case Kind::kHostPort:
      return {};
  }
  return {};
}

// Parses the text of an environment variable or a flag as the key's kind.
std::string ParseText(const KeySpec& spec, std::string_view text, Value* out) {
  switch (spec.kind) {
    case Kind::kInt: {
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out->i);
      if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
        return IntBounds(spec);
      }
      break;
    }
    case Kind::kDouble: {
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out->d);
      if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
        return DoubleBounds(spec);
      }
      break;
    }
    case Kind::kBool:
      if (text == "true" || text == "1") {
        out->b = true;
      } else if (text == "false" || text == "0") {
        out->b = false;
      } else {
        return "must be true or false";
      }
      break;
    case Kind::kString:
      out->s = std::string(text);
      break;
    case Kind::kHostPort: {
      HostPortResult hp = ParseHostPort(text);
      if (!hp.ok) return hp.error;
      out->host_port = std::move(hp.value);
      break;
    }
  }
  return CheckValue(spec, *out);
}

// Reads a TOML value as the key's kind. Integers are accepted where a number is expected, never
// the other way round.
std::string ParseNode(const KeySpec& spec, const toml::node& node, Value* out) {
  switch (spec.kind) {
    case Kind::kInt:
      if (!node.is_integer()) return IntBounds(spec);
      out->i = node.as_integer()->get();
      break;
    case Kind::kDouble:
      if (node.is_integer()) {
        out->d = static_cast<double>(node.as_integer()->get());
      } else if (node.is_floating_point()) {
        out->d = node.as_floating_point()->get();
      } else {
        return DoubleBounds(spec);
      }
      break;
    case Kind::kBool:
      if (!node.is_boolean()) return "must be true or false";
      out->b = node.as_boolean()->get();
      break;
    case Kind::kString:
      if (!node.is_string()) return "must be a string";
      out->s = node.as_string()->get();
      break;
    case Kind::kHostPort: {
      if (!node.is_string()) return "must be a string \"HOST:PORT\"";
      HostPortResult hp = ParseHostPort(node.as_string()->get());
      if (!hp.ok) return hp.error;
      out->host_port = std::move(hp.value);
      break;
    }
  }
  return CheckValue(spec, *out);
}

std::string Where(const std::string& file, const toml::node& node) {
  const toml::source_position begin = node.source().begin;
  return "config file " + file + ":" + std::to_string(begin.line) + ": ";
}

// Applies every key of `table` (at dotted `prefix`) to `config`; the first problem as an error.
std::string ApplyTable(const toml::table& table, const std::string& prefix, const std::string& file,
                       OriginConfig& config) {
  for (const auto& [name, node] : table) {
    const std::string path =
        prefix.empty() ? std::string(name.str()) : prefix + "." + std::string(name.str());
    if (const KeySpec* spec = FindSpec(path)) {
      Value value;
      const std::string why = ParseNode(*spec, node, &value);
      if (!why.empty()) return Where(file, node) + "key \"" + path + "\" " + why;
      spec->apply(config, value);
    } else if (IsTablePath(path)) {
      if (!node.is_table()) return Where(file, node) + "key \"" + path + "\" must be a table";
      std::string error = ApplyTable(*node.as_table(), path, file, config);
      if (!error.empty()) return error;
    } else {
      return Where(file, node) + "unknown key \"" + path + "\"";
    }
  }
  return {};
}

std::string ApplyFile(const std::string& file, OriginConfig& config) {
  std::error_code ec;
  if (std::filesystem::is_directory(file, ec)) {
    return "cannot read config file " + file + ": is a directory";
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) return "cannot read config file " + file + ": " + std::strerror(errno);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return "cannot read config file " + file + ": read error";
  try {
    const toml::table table = toml::parse(text.str(), file);
    return ApplyTable(table, "", file, config);
  } catch (const toml::parse_error& e) {
    return "config file " + file + ":" + std::to_string(e.source().begin.line) + ":" +
           std::to_string(e.source().begin.column) + ": " + std::string(e.description());
  }
}

std::string ApplyEnvironment(const std::function<const char*(const char*)>& getenv,
                             OriginConfig& config) {
  for (const KeySpec& spec : Specs()) {
    const std::string env(spec.env);
    const char* text = getenv(env.c_str());
    if (text == nullptr) continue;
    Value value;
    const std::string why = ParseText(spec, text, &value);
    // The value itself is not echoed: it may be the secret.
    if (!why.empty()) return env + " " + why;
    spec.apply(config, value);
  }
  return {};
}

// The final checks that span sources: some token key is required, a secret must be strong, and
// the JWK Set file is read and must hold valid public keys.
std::string CheckComplete(OriginConfig& config) {
  if (!config.jwt_jwks_file.empty()) {
    std::ifstream in(config.jwt_jwks_file);
    std::stringstream text;
    text << in.rdbuf();
    if (!in) return "jwt_jwks_file " + config.jwt_jwks_file + ": cannot be read";
    std::string why;
    auto keys = ParseJwks(text.str(), &why);
    if (!keys) return "jwt_jwks_file " + config.jwt_jwks_file + ": " + why;
    config.jwt_es256_keys = std::move(*keys);
  }
  if (config.jwt_secret.empty() && config.jwt_es256_keys.empty()) {
    return "no token key: set STOCKGATE_JWT_SECRET to at least " +
           std::to_string(kMinJwtSecretBytes) +
           " random bytes (e.g. `openssl rand -base64 48`), or jwt_jwks_file to the issuer's "
           "public keys";
  }
  if (!config.jwt_secret.empty() && !JwtAuth::SecretIsStrong(config.jwt_secret)) {
    return "jwt_secret is too weak: " + std::to_string(config.jwt_secret.size()) +
           " bytes, need at least " + std::to_string(kMinJwtSecretBytes);
  }
  return {};
}

LoadResult Fail(std::string error) {
  LoadResult r;
  r.error = std::move(error);
  return r;
}

LoadResult Load(int argc, char** argv, const std::function<const char*(const char*)>& getenv) {
  CLI::App app(
      "stockgate origin: the authoritative inventory HTTP API.\n"
      "Settings: defaults < config file < STOCKGATE_* environment < flags; every key, its\n"
      "default and its variable are documented in stockgate-origin.example.toml. The HS256\n"
      "secret comes from STOCKGATE_JWT_SECRET (or jwt_secret), ES256 public keys from\n"
      "jwt_jwks_file.",
      "stockgate-origin");
  app.footer(
      "Other commands:\n"
      "  stockgate-origin token --role R --sub S --ttl SECONDS [--key PEM --kid K]\n"
      "      mints a token (ES256 with --key, else HS256 with STOCKGATE_JWT_SECRET)\n"
      "  stockgate-origin jwks --key PEM --kid K\n"
      "      prints the JWK Set of an issuer key, for jwt_jwks_file and the edge\n"
      "Each answers --help.");
  std::string config_flag;
  app.add_option("--config", config_flag, "TOML config file (default: $STOCKGATE_CONFIG)")
      ->type_name("FILE");
  std::vector<std::pair<const KeySpec*, std::string>> flag_values;
  flag_values.reserve(Specs().size());
  for (const KeySpec& spec : Specs()) {
    if (spec.flag.empty()) continue;
    flag_values.emplace_back(&spec, std::string());
    app.add_option(std::string(spec.flag), flag_values.back().second, std::string(spec.flag_help))
        ->type_name(std::string(spec.flag_value));
  }
  if (argc > 0 && argv != nullptr) {
    try {
      app.parse(argc, argv);
    } catch (const CLI::CallForHelp&) {
      LoadResult r;
      r.help_requested = true;
      r.help_text = app.help();
      return r;
    } catch (const CLI::ParseError& e) {
      return Fail(e.what());
    }
  }

  LoadResult result;
  OriginConfig& config = result.config;

  std::string file = config_flag;
  if (app.count("--config") == 0) {
    const char* env_file = getenv("STOCKGATE_CONFIG");
    file = env_file != nullptr ? env_file : "";
  } else if (file.empty()) {
    return Fail("--config needs a file name");
  }
  if (!file.empty()) {
    std::string error = ApplyFile(file, config);
    if (!error.empty()) return Fail(std::move(error));
    config.config_file = file;
  }

  if (std::string error = ApplyEnvironment(getenv, config); !error.empty()) {
    return Fail(std::move(error));
  }

  for (const auto& [spec, text] : flag_values) {
    if (app.count(std::string(spec->flag)) == 0) continue;
    Value value;
    const std::string why = ParseText(*spec, text, &value);
    if (!why.empty()) return Fail(std::string(spec->flag) + " " + why);
    spec->apply(config, value);
  }

  if (config.threads == 0) config.threads = DefaultThreads(std::thread::hardware_concurrency());
  if (std::string error = CheckComplete(config); !error.empty()) return Fail(std::move(error));
  result.ok = true;
  return result;
}

}  // namespace

int DefaultThreads(unsigned hardware_threads) {
  return static_cast<int>(std::clamp<std::int64_t>(hardware_threads, 1, kMaxThreads));
}

HostPortResult ParseHostPort(std::string_view text) {
  HostPortResult r;
  const auto fail = [&](std::string why) {
    r.error = "must be HOST:PORT (IPv6 as [ADDR]:PORT): " + why;
    return r;
  };
  std::string_view host;
  std::string_view port;
  if (text.starts_with('[')) {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos) return fail("missing ]");
    host = text.substr(1, close - 1);
    if (close + 1 >= text.size() || text[close + 1] != ':') return fail("missing :PORT");
    port = text.substr(close + 2);
    const bool ipv6_chars = std::all_of(host.begin(), host.end(), [](char c) {
      return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
             c == ':' || c == '.';
    });
    if (host.find(':') == std::string_view::npos || !ipv6_chars) {
      return fail("\"" + std::string(host) + "\" is not an IPv6 address");
    }
  } else {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return fail("missing :PORT");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return fail("put an IPv6 address in brackets");
    }
    const bool name_chars = std::all_of(host.begin(), host.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '.' || c == '-' || c == '_';
    });
    if (!name_chars || host.size() > 253) return fail("bad host name");
  }
  if (host.empty()) return fail("empty host");
  int value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || port.size() > 5 || ec != std::errc() || end != port.data() + port.size() ||
      !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      value < 1 || value > 65535) {
    return fail("port must be 1..65535");
  }
  r.ok = true;
  r.value.host = std::string(host);
  r.value.port = static_cast<std::uint16_t>(value);
  return r;
}

const std::vector<ConfigKeyInfo>& ConfigKeys() {
  static const std::vector<ConfigKeyInfo> keys = [] {
    std::vector<ConfigKeyInfo> out;
    for (const KeySpec& spec : Specs()) out.push_back({spec.key, spec.env, spec.flag});
    return out;
  }();
  return keys;
}

LoadResult LoadConfig(int argc, char** argv,
                      const std::function<const char*(const char*)>& getenv) {
  // The boundary: nothing thrown below (CLI11, toml++, allocation) escapes to the caller.
  try {
    return Load(argc, argv, getenv);
  } catch (const std::exception& e) {
    return Fail(std::string("configuration: ") + e.what());
  } catch (...) {
    return Fail("configuration: unexpected error");
  }
}

}  // namespace stockgate::server
