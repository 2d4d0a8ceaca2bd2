// One loader for the settings of every stockgate binary, so that each setting has one name and
// every binary the same precedence: defaults < a TOML file < the environment < command-line flags.
// A key "redis_key_prefix" ("rate_limits.reads.burst" inside tables) is STOCKGATE_REDIS_KEY_PREFIX
// in the environment and --redis-key-prefix on the command line (for the keys that have a flag).
// Every value is checked the same way whatever its source (unknown keys, types and ranges are
// errors naming the key and the bound).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace stockgate::config {

enum class Kind { kInt, kDouble, kBool, kString, kHostPort };

struct HostPort {
  std::string host;  // brackets removed: "::1" for "[::1]:6379"
  std::uint16_t port = 0;
};

// Strict HOST:PORT: a host name or IPv4 address, or an IPv6 address in brackets ("[::1]:8080");
// port 1..65535 in plain decimal.
core::Result<HostPort> ParseHostPort(std::string_view text);
// HOST:PORT items separated by commas ("10.0.0.1:7000,10.0.0.2:7000"), each as ParseHostPort
// reads it; "" is the empty list.
core::Result<std::vector<HostPort>> ParseHostPortList(std::string_view text);
// The same as a check for a string key (Key::check).
core::Status CheckHostPortList(std::string_view text);

// A value already parsed to its key's kind.
struct Value {
  std::int64_t i = 0;
  double d = 0;
  bool b = false;
  std::string s;
  HostPort host_port;
};

// What a key accepts.
struct Key {
  std::string_view name = {};
  // Non-empty: the key has a flag, --NAME with '_' and '.' as '-', with this help and value name.
  std::string_view flag_help = {};
  std::string_view flag_value = {};  // "HOST:PORT", "N"
  Kind kind = Kind::kString;
  std::int64_t min_int = 0;  // kInt bounds, inclusive
  std::int64_t max_int = 0;
  double min_double = 0;  // kDouble bounds, inclusive
  double max_double = 0;
  // kString: fails with the reason when the value is not acceptable.
  core::Status (*check)(std::string_view) = nullptr;
  // The file key of an earlier release (and its flag, when the key has one and it differs):
  // still read, with a warning naming the new one.
  std::string_view old_name = {};
};

// A refused setting: kInvalidRequest with the reason.
inline core::Error Invalid(std::string why) {
  return core::Fail(core::Code::kInvalidRequest, std::move(why));
}

// STOCKGATE_ + the key upper-cased, '.' as '_'.
std::string EnvName(std::string_view key);
// -- + the key, '_' and '.' as '-'.
std::string FlagName(std::string_view key);

// What Load read. A refused setting fails the load instead (kInvalidRequest), with one line naming
// the key and the bound.
struct Loaded {
  bool help_requested = false;  // --help: print help_text and exit 0, nothing else
  std::string help_text;
  std::vector<std::string> warnings;  // deprecated spellings that were read
  std::string file;                   // the config file that was read, "" when none
};

using Getenv = std::function<const char*(const char*)>;
// Receives each value in precedence order (later calls win): key index into `keys`, value.
using Set = std::function<void(std::size_t, const Value&)>;
// The default of a key with a flag, as --help shows it; "" shows none.
using Show = std::function<std::string(std::size_t)>;

// Adds --config FILE (default: the variable `config_env`) and a flag for each key that has one to
// `app`, parses argv (subcommands of `app` included), then reads the file, the environment and
// the flags, calling `set` for every value found. Never throws. `show` gives the defaults that
// --help prints beside each flag.
core::Result<Loaded> Load(CLI::App& app, std::span<const Key> keys, std::string_view config_env,
                          int argc, char** argv, const Getenv& getenv, const Set& set,
                          const Show& show);

}  // namespace stockgate::config
