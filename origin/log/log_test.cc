#include "origin/log/log.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

namespace stockgate::log {
namespace {

using nlohmann::json;

std::vector<json> Lines(const std::string& text) {
  std::vector<json> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    lines.push_back(json::parse(line, nullptr, /*allow_exceptions=*/false));
  }
  return lines;
}

TEST(LogTest, EveryLineIsOneJsonObjectWhateverTheFieldsHold) {
  std::ostringstream out;
  Configure(Level::kInfo, &out);
  Info("listening", {{"listen", "127.0.0.1:8080"}, {"threads", 4}});
  Warn("quote \" backslash \\ newline \n tab \t", {{"error", "bad\xff\xfe utf-8"}});
  Error("not an object", json::array({1, 2}));
  Error("cannot listen", {{"host", "not an address"}});
  Configure(Level::kInfo, nullptr);  // stdout again before `out` goes

  const std::vector<json> lines = Lines(out.str());
  ASSERT_EQ(lines.size(), 4u) << out.str();
  for (const json& line : lines) {
    ASSERT_TRUE(line.is_object()) << out.str();
    EXPECT_TRUE(line["time"].is_string());
    EXPECT_TRUE(line["level"].is_string());
    EXPECT_TRUE(line["log"]["msg"].is_string());
  }
  EXPECT_EQ(lines[0]["level"], "info");
  EXPECT_EQ(lines[0]["log"]["threads"], 4);
  EXPECT_EQ(lines[1]["level"], "warning");
  EXPECT_EQ(lines[1]["log"]["msg"], "quote \" backslash \\ newline \n tab \t");
  EXPECT_EQ(lines[1]["log"]["error"], "bad\xEF\xBF\xBD\xEF\xBF\xBD utf-8");
  EXPECT_EQ(lines[2]["log"]["value"], json::array({1, 2}));
  EXPECT_EQ(lines[3]["level"], "error");
}

TEST(LogTest, LinesBelowTheLevelAreNotWritten) {
  std::ostringstream out;
  Configure(Level::kWarn, &out);
  Debug("no");
  Info("no");
  Warn("yes");
  Critical("yes");
  Configure(Level::kOff, &out);
  Critical("no");
  Configure(Level::kInfo, nullptr);
  const std::vector<json> lines = Lines(out.str());
  ASSERT_EQ(lines.size(), 2u) << out.str();
  EXPECT_EQ(lines[0]["log"]["msg"], "yes");
  EXPECT_EQ(lines[1]["level"], "critical");
}

TEST(LogTest, LevelNamesParseAndOthersAreRefused) {
  for (std::size_t i = 0; i < kLevelNames.size(); ++i) {
    EXPECT_EQ(ParseLevel(kLevelNames[i]), static_cast<Level>(i));
  }
  EXPECT_EQ(ParseLevel("verbose"), std::nullopt);
  EXPECT_EQ(ParseLevel(""), std::nullopt);
  EXPECT_EQ(ParseLevel("INFO"), std::nullopt);
  EXPECT_TRUE(CheckLevel("info").ok());
  EXPECT_EQ(CheckLevel("verbose").error(),
            "must be one of trace, debug, info, warn, error, critical or off");
}

}  // namespace
}  // namespace stockgate::log
