// The one way stockgate's binaries write logs: one JSON object per line,
// {"time":"...Z","level":"info","log":{"msg":"...",...fields}}. Every line goes through Write,
// which serializes the fields itself, so no caller can put text that is not JSON on a line.
#pragma once

#include <array>
#include <iosfwd>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace stockgate::log {

enum class Level { kTrace, kDebug, kInfo, kWarn, kError, kCritical, kOff };

// The level names a --log-level option accepts, in order of severity.
inline constexpr std::array<std::string_view, 7> kLevelNames = {"trace", "debug",    "info", "warn",
                                                                "error", "critical", "off"};

// The level of a name in kLevelNames; nullopt for anything else.
std::optional<Level> ParseLevel(std::string_view name);

// Whether ParseLevel accepts `name`; else "must be one of trace, debug, ..." (a config check).
core::Status CheckLevel(std::string_view name);

// Makes this process write lines of `level` and above, in the JSON form, to stdout (or to `out`,
// for tests; it must outlive every later Write).
void Configure(Level level, std::ostream* out = nullptr);

// The "log" value of one line: `fields` (an object; another value is kept under "value") with
// "msg" set to `msg`. Strings that are not valid UTF-8 keep their good bytes and get U+FFFD in
// place of the bad ones.
std::string Render(std::string_view msg, const nlohmann::json& fields);

// Writes one line at `level` when the level is enabled.
void Write(Level level, std::string_view msg, const nlohmann::json& fields);

inline void Debug(std::string_view msg, const nlohmann::json& fields = nlohmann::json::object()) {
  Write(Level::kDebug, msg, fields);
}
inline void Info(std::string_view msg, const nlohmann::json& fields = nlohmann::json::object()) {
  Write(Level::kInfo, msg, fields);
}
inline void Warn(std::string_view msg, const nlohmann::json& fields = nlohmann::json::object()) {
  Write(Level::kWarn, msg, fields);
}
inline void Error(std::string_view msg, const nlohmann::json& fields = nlohmann::json::object()) {
  Write(Level::kError, msg, fields);
}
inline void Critical(std::string_view msg,
                     const nlohmann::json& fields = nlohmann::json::object()) {
  Write(Level::kCritical, msg, fields);
}

}  // namespace stockgate::log
