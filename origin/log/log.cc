#include "origin/log/log.h"

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <memory>

namespace stockgate::log {
namespace {

using nlohmann::json;

// The line around each Render: time in UTC with milliseconds, the level's name, the fields.
constexpr const char* kPattern = R"({"time":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","log":%v})";

// Level lists spdlog's levels in spdlog's order, so the one is the other's number.
static_assert(static_cast<int>(Level::kTrace) == spdlog::level::trace &&
              static_cast<int>(Level::kWarn) == spdlog::level::warn &&
              static_cast<int>(Level::kOff) == spdlog::level::off);
spdlog::level::level_enum ToSpdlog(Level level) {
  return static_cast<spdlog::level::level_enum>(level);
}

}  // namespace

std::optional<Level> ParseLevel(std::string_view name) {
  for (std::size_t i = 0; i < kLevelNames.size(); ++i) {
    if (kLevelNames[i] == name) return static_cast<Level>(i);
  }
  return std::nullopt;
}

core::Status CheckLevel(std::string_view name) {
  if (ParseLevel(name)) return {};
  std::string names;
  for (std::size_t i = 0; i < kLevelNames.size(); ++i) {
    names += i == 0 ? "" : (i + 1 == kLevelNames.size() ? " or " : ", ");
    names += kLevelNames[i];
  }
  return core::Fail(core::Code::kInvalidRequest, "must be one of " + names);
}

void Configure(Level level, std::ostream* out) {
  std::shared_ptr<spdlog::sinks::sink> sink;
  if (out != nullptr) {
    sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(*out, /*force_flush=*/true);
  } else {
    sink = std::make_shared<spdlog::sinks::stdout_sink_mt>();
  }
  auto logger = std::make_shared<spdlog::logger>("stockgate", std::move(sink));
  logger->set_pattern(kPattern, spdlog::pattern_time_type::utc);
  logger->set_level(ToSpdlog(level));
  spdlog::set_default_logger(std::move(logger));
}

std::string Render(std::string_view msg, const json& fields) {
  json line = fields.is_object() ? fields : json{{"value", fields}};
  line["msg"] = msg;
  return line.dump(-1, ' ', false, json::error_handler_t::replace);
}

void Write(Level level, std::string_view msg, const json& fields) {
  const spdlog::level::level_enum l = ToSpdlog(level);
  if (!spdlog::should_log(l)) return;
  spdlog::log(l, "{}", Render(msg, fields));
}

}  // namespace stockgate::log
