#include "origin/config/loader.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <utility>

namespace stockgate::config {
namespace {

std::string FormatNumber(double v) {
  std::ostringstream out;
  out << v;
  return out.str();
}

std::string IntBounds(const Key& key) {
  return "must be an integer in " + std::to_string(key.min_int) + ".." +
         std::to_string(key.max_int);
}

std::string DoubleBounds(const Key& key) {
  return "must be a number in " + FormatNumber(key.min_double) + ".." +
         FormatNumber(key.max_double);
}

// Range and content checks shared by every source.
core::Status CheckValue(const Key& key, const Value& value) {
  switch (key.kind) {
    case Kind::kInt:
      if (value.i < key.min_int || value.i > key.max_int) return Invalid(IntBounds(key));
      return {};
    case Kind::kDouble:
      // Written so that NaN fails too.
      if (!(value.d >= key.min_double && value.d <= key.max_double))
        return Invalid(DoubleBounds(key));
      return {};
    case Kind::kString:
      if (key.check == nullptr) return {};
      return key.check(value.s);
    case Kind::kBool:
    case Kind::kHostPort:
      return {};
  }
  return {};
}

// Parses the text of an environment variable or a flag as the key's kind.
core::Status ParseText(const Key& key, std::string_view text, Value* out) {
  switch (key.kind) {
    case Kind::kInt: {
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out->i);
      if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
        return Invalid(IntBounds(key));
      }
      break;
    }
    case Kind::kDouble: {
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out->d);
      if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
        return Invalid(DoubleBounds(key));
      }
      break;
    }
    case Kind::kBool:
      if (text == "true" || text == "1") {
        out->b = true;
      } else if (text == "false" || text == "0") {
        out->b = false;
      } else {
        return Invalid("must be true or false");
      }
      break;
    case Kind::kString:
      out->s = std::string(text);
      break;
    case Kind::kHostPort: {
      core::Result<HostPort> hp = ParseHostPort(text);
      if (!hp) return hp.failure();
      out->host_port = std::move(hp).value();
      break;
    }
  }
  return CheckValue(key, *out);
}

// Reads a TOML value as the key's kind. Integers are accepted where a number is expected, never
// the other way round.
core::Status ParseNode(const Key& key, const toml::node& node, Value* out) {
  switch (key.kind) {
    case Kind::kInt:
      if (!node.is_integer()) return Invalid(IntBounds(key));
      out->i = node.as_integer()->get();
      break;
    case Kind::kDouble:
      if (node.is_integer()) {
        out->d = static_cast<double>(node.as_integer()->get());
      } else if (node.is_floating_point()) {
        out->d = node.as_floating_point()->get();
      } else {
        return Invalid(DoubleBounds(key));
      }
      break;
    case Kind::kBool:
      if (!node.is_boolean()) return Invalid("must be true or false");
      out->b = node.as_boolean()->get();
      break;
    case Kind::kString:
      if (!node.is_string()) return Invalid("must be a string");
      out->s = node.as_string()->get();
      break;
    case Kind::kHostPort: {
      if (!node.is_string()) return Invalid("must be a string \"HOST:PORT\"");
      core::Result<HostPort> hp = ParseHostPort(node.as_string()->get());
      if (!hp) return hp.failure();
      out->host_port = std::move(hp).value();
      break;
    }
  }
  return CheckValue(key, *out);
}

class Reader {
 public:
  Reader(std::span<const Key> keys, const Set& set, std::vector<std::string>* warnings)
      : keys_(keys), set_(set), warnings_(warnings) {}

  // The index of the key a file spells `path`: its name, or (with a warning) its old name.
  std::optional<std::size_t> Find(std::string_view path, const std::string& where) {
    for (std::size_t i = 0; i < keys_.size(); ++i) {
      if (keys_[i].name == path) return i;
    }
    for (std::size_t i = 0; i < keys_.size(); ++i) {
      if (!keys_[i].old_name.empty() && keys_[i].old_name == path) {
        warnings_->push_back(where + "key \"" + std::string(path) + "\" is deprecated; write \"" +
                             std::string(keys_[i].name) + "\"");
        return i;
      }
    }
    return std::nullopt;
  }

  // True when `path` names a table that holds keys ("rate_limits", "rate_limits.reads").
  bool IsTable(std::string_view path) const {
    return std::any_of(keys_.begin(), keys_.end(), [&](const Key& key) {
      return key.name.size() > path.size() && key.name.starts_with(path) &&
             key.name[path.size()] == '.';
    });
  }

  core::Status ApplyTable(const toml::table& table, const std::string& prefix,
                          const std::string& file) {
    for (const auto& [name, node] : table) {
      const std::string path =
          prefix.empty() ? std::string(name.str()) : prefix + "." + std::string(name.str());
      const std::string where =
          "config file " + file + ":" + std::to_string(node.source().begin.line) + ": ";
      if (const auto i = Find(path, where)) {
        Value value;
        const core::Status why = ParseNode(keys_[*i], node, &value);
        if (!why) return Invalid(where + "key \"" + path + "\" " + why.error());
        set_(*i, value);
      } else if (IsTable(path)) {
        if (!node.is_table()) return Invalid(where + "key \"" + path + "\" must be a table");
        core::Status error = ApplyTable(*node.as_table(), path, file);
        if (!error) return error;
      } else {
        return Invalid(where + "unknown key \"" + path + "\"");
      }
    }
    return {};
  }

  core::Status ApplyFile(const std::string& file) {
    std::error_code ec;
    if (std::filesystem::is_directory(file, ec)) {
      return Invalid("cannot read config file " + file + ": is a directory");
    }
    std::ifstream in(file, std::ios::binary);
    if (!in) return Invalid("cannot read config file " + file + ": " + std::strerror(errno));
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) return Invalid("cannot read config file " + file + ": read error");
    try {
      const toml::table table = toml::parse(text.str(), file);
      return ApplyTable(table, "", file);
    } catch (const toml::parse_error& e) {
      return Invalid("config file " + file + ":" + std::to_string(e.source().begin.line) + ":" +
                     std::to_string(e.source().begin.column) + ": " + std::string(e.description()));
    }
  }

  core::Status ApplyEnvironment(const Getenv& getenv) {
    for (std::size_t i = 0; i < keys_.size(); ++i) {
      const std::string env = EnvName(keys_[i].name);
      const char* text = getenv(env.c_str());
      if (text == nullptr) continue;
      Value value;
      const core::Status why = ParseText(keys_[i], text, &value);
      // The value itself is not echoed: it may be a secret.
      if (!why) return Invalid(env + " " + why.error());
      set_(i, value);
    }
    return {};
  }

 private:
  std::span<const Key> keys_;
  const Set& set_;
  std::vector<std::string>* warnings_;
};

core::Result<Loaded> LoadOrThrow(CLI::App& app, std::span<const Key> keys,
                                 std::string_view config_env, int argc, char** argv,
                                 const Getenv& getenv, const Set& set, const Show& show) {
  // Options bound to no variable of ours: the caller's App may outlive this call.
  CLI::Option* config_option = app.add_option("--config")
                                   ->description("TOML file of the settings below (default: $" +
                                                 std::string(config_env) + ")")
                                   ->type_name("FILE");
  struct Flag {
    std::size_t key;
    std::string name;
    CLI::Option* option;
    bool old;
  };
  // A key's old flag before its new one: given both, the new one is applied last and wins.
  std::vector<Flag> flags;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const Key& key = keys[i];
    if (key.flag_help.empty()) continue;
    const std::string name = FlagName(key.name);
    if (!key.old_name.empty() && FlagName(key.old_name) != name) {
      CLI::Option* old = app.add_option(FlagName(key.old_name))->description("deprecated: " + name);
      old->type_name(std::string(key.flag_value))->group("");  // hidden
      flags.push_back({i, FlagName(key.old_name), old, true});
    }
    // The variable is named in the help only: ApplyEnvironment reads it, below the flags.
    const std::string shown = show ? show(i) : std::string();
    const std::string help = std::string(key.flag_help) + " (env " + EnvName(key.name) +
                             (shown.empty() ? "" : "; default " + shown) + ")";
    CLI::Option* option = app.add_option(name)->description(help);
    option->type_name(std::string(key.flag_value));
    flags.push_back({i, name, option, false});
  }
  try {
    if (argc > 0 && argv != nullptr) app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    Loaded r;
    r.help_requested = true;
    r.help_text = app.help();
    return r;
  } catch (const CLI::ParseError& e) {
    return Invalid(e.what());
  }

  Loaded result;
  Reader reader(keys, set, &result.warnings);
  std::string file = config_option->count() > 0 ? config_option->as<std::string>() : "";
  if (config_option->count() == 0) {
    const char* env_file = getenv(std::string(config_env).c_str());
    file = env_file != nullptr ? env_file : "";
  } else if (file.empty()) {
    return Invalid("--config needs a file name");
  }
  if (!file.empty()) {
    if (core::Status read = reader.ApplyFile(file); !read) return read.failure();
    result.file = file;
  }
  if (core::Status read = reader.ApplyEnvironment(getenv); !read) return read.failure();
  for (const Flag& f : flags) {
    if (f.option->count() == 0) continue;
    const std::string& name = f.name;
    if (f.old) {
      result.warnings.push_back(name + " is deprecated; use " + FlagName(keys[f.key].name));
    }
    Value value;
    const core::Status why = ParseText(keys[f.key], f.option->as<std::string>(), &value);
    if (!why) return Invalid(name + " " + why.error());
    set(f.key, value);
  }
  return result;
}

}  // namespace

std::string EnvName(std::string_view key) {
  std::string out = "STOCKGATE_";
  for (const char c : key) {
    out += c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

std::string FlagName(std::string_view key) {
  std::string out = "--";
  for (const char c : key) out += c == '_' || c == '.' ? '-' : c;
  return out;
}

core::Result<Loaded> Load(CLI::App& app, std::span<const Key> keys, std::string_view config_env,
                          int argc, char** argv, const Getenv& getenv, const Set& set,
                          const Show& show) {
  // The boundary: nothing thrown below (CLI11, toml++, allocation) escapes to the caller.
  try {
    return LoadOrThrow(app, keys, config_env, argc, argv, getenv, set, show);
  } catch (const std::exception& e) {
    return Invalid(std::string("configuration: ") + e.what());
  } catch (...) {
    return Invalid("configuration: unexpected error");
  }
}
core::Result<HostPort> ParseHostPort(std::string_view text) {
  const auto fail = [](std::string why) {
    return core::Fail(core::Code::kInvalidRequest,
                      "must be HOST:PORT (IPv6 as [ADDR]:PORT): " + why);
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
  return HostPort{std::string(host), static_cast<std::uint16_t>(value)};
}

core::Result<std::vector<HostPort>> ParseHostPortList(std::string_view text) {
  std::vector<HostPort> out;
  if (text.empty()) return out;
  while (true) {
    const std::size_t comma = text.find(',');
    core::Result<HostPort> one = ParseHostPort(text.substr(0, comma));
    if (!one) {
      return core::Fail(core::Code::kInvalidRequest,
                        "item " + std::to_string(out.size() + 1) + ": " + one.error());
    }
    out.push_back(std::move(one).value());
    if (comma == std::string_view::npos) return out;
    text.remove_prefix(comma + 1);
  }
}

core::Status CheckHostPortList(std::string_view text) {
  const core::Result<std::vector<HostPort>> list = ParseHostPortList(text);
  if (!list) return list.failure();
  return {};
}

}  // namespace stockgate::config
