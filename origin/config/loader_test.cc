#include "origin/config/loader.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "tests/support/process.h"

namespace stockgate::config {
namespace {

const Key kKeys[] = {
    {.name = "redis_key_prefix",
     .flag_help = "prefix",
     .flag_value = "P",
     .old_name = "redis-prefix"},
    {.name = "batch_size",
     .flag_help = "size",
     .flag_value = "N",
     .kind = Kind::kInt,
     .min_int = 1,
     .max_int = 100,
     .old_name = "batch-size"},
    {.name = "limits.burst", .kind = Kind::kDouble, .min_double = 1, .max_double = 10},
};

struct Outcome {
  core::Result<Loaded> loaded = core::Fail(core::Code::kUnavailable, "not loaded");
  std::map<std::string, std::vector<std::string>> set;  // key -> values in the order set
};

Outcome Load(std::vector<std::string> args, std::map<std::string, std::string> env,
             const std::string& file_text = "") {
  std::string file;
  if (!file_text.empty()) {
    file = testing::WriteTempFile("loader-test", ".toml", file_text);
    env["TEST_CONFIG"] = file;
  }
  args.insert(args.begin(), "prog");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  Outcome run;
  CLI::App app("test", "prog");
  run.loaded = config::Load(
      app, kKeys, "TEST_CONFIG", static_cast<int>(argv.size()), argv.data(),
      [&env](const char* name) {
        const auto it = env.find(name);
        return it == env.end() ? nullptr : it->second.c_str();
      },
      [&run](std::size_t i, const Value& v) {
        const Key& key = kKeys[i];
        run.set[std::string(key.name)].push_back(key.kind == Kind::kInt      ? std::to_string(v.i)
                                                 : key.kind == Kind::kDouble ? std::to_string(v.d)
                                                                             : v.s);
      },
      [](std::size_t i) { return i == 1 ? std::string("42") : std::string(); });
  if (!file.empty()) std::remove(file.c_str());
  return run;
}

TEST(LoaderTest, NamesFollowTheKey) {
  EXPECT_EQ(EnvName("rate_limits.reads.burst"), "STOCKGATE_RATE_LIMITS_READS_BURST");
  EXPECT_EQ(FlagName("redis_key_prefix"), "--redis-key-prefix");
}

// Defaults < file < environment < flags: each source's value is set after the one below it.
TEST(LoaderTest, FlagOverEnvironmentOverFile) {
  const Outcome run = Load({"--batch-size", "3"},
                           {{"STOCKGATE_BATCH_SIZE", "2"}, {"STOCKGATE_REDIS_KEY_PREFIX", "env"}},
                           "batch_size = 1\nredis_key_prefix = \"file\"\n[limits]\nburst = 4\n");
  ASSERT_TRUE(run.loaded.ok()) << run.loaded.error();
  EXPECT_EQ(run.set.at("batch_size"), (std::vector<std::string>{"1", "2", "3"}));
  EXPECT_EQ(run.set.at("redis_key_prefix"), (std::vector<std::string>{"file", "env"}));
  EXPECT_EQ(run.set.at("limits.burst").size(), 1u);
  EXPECT_TRUE(run.loaded->warnings.empty());
  EXPECT_FALSE(run.loaded->file.empty());
}

// The spellings of an earlier release still work, each with a warning naming the new one.
TEST(LoaderTest, OldSpellingsAreReadWithAWarning) {
  const Outcome run =
      Load({"--redis-prefix", "flag"}, {}, "redis-prefix = \"a\"\nbatch-size = 5\n");
  ASSERT_TRUE(run.loaded.ok()) << run.loaded.error();
  EXPECT_EQ(run.set.at("redis_key_prefix"), (std::vector<std::string>{"a", "flag"}));
  EXPECT_EQ(run.set.at("batch_size"), (std::vector<std::string>{"5"}));
  const auto warned = [&run](const std::string& text) {
    return std::any_of(run.loaded->warnings.begin(), run.loaded->warnings.end(),
                       [&](const std::string& w) { return w.find(text) != std::string::npos; });
  };
  EXPECT_EQ(run.loaded->warnings.size(), 3u);
  EXPECT_TRUE(warned("\"redis-prefix\" is deprecated; write \"redis_key_prefix\""));
  EXPECT_TRUE(warned("\"batch-size\" is deprecated; write \"batch_size\""));
  EXPECT_TRUE(warned("--redis-prefix is deprecated; use --redis-key-prefix"));
}

// Given both, the new flag wins over the old one; a key never spelled with '-' is not read so.
TEST(LoaderTest, NewFlagWinsAndOnlyOldNamesAreAliases) {
  Outcome run = Load({"--redis-key-prefix", "new", "--redis-prefix", "old"}, {});
  ASSERT_TRUE(run.loaded.ok()) << run.loaded.error();
  EXPECT_EQ(run.set.at("redis_key_prefix").back(), "new");
  run = Load({}, {}, "[limits]\nburst = 2\nredis-key-prefix = \"x\"\n");
  EXPECT_NE(run.loaded.error().find("unknown key \"limits.redis-key-prefix\""), std::string::npos)
      << run.loaded.error();
  EXPECT_NE(Load({}, {}, "redis-key-prefix = \"x\"\n").loaded.error().find("unknown key"),
            std::string::npos);
}

TEST(LoaderTest, BadValuesNameTheKeyAndTheBound) {
  EXPECT_EQ(Load({"--batch-size", "0"}, {}).loaded.error(),
            "--batch-size must be an integer in 1..100");
  EXPECT_EQ(Load({}, {{"STOCKGATE_BATCH_SIZE", "x"}}).loaded.error(),
            "STOCKGATE_BATCH_SIZE must be an integer in 1..100");
  EXPECT_NE(Load({}, {}, "nope = 1\n").loaded.error().find("unknown key \"nope\""),
            std::string::npos);
  EXPECT_NE(Load({}, {}, "[limits]\nburst = 11\n")
                .loaded.error()
                .find("key \"limits.burst\" must be a number in 1..10"),
            std::string::npos);
  EXPECT_FALSE(Load({"--no-such-flag"}, {}).loaded.ok());
}

TEST(LoaderTest, HelpIsReturnedWithEveryFlagAndItsVariable) {
  const Outcome run = Load({"--help"}, {});
  ASSERT_TRUE(run.loaded.ok()) << run.loaded.error();
  EXPECT_TRUE(run.loaded->help_requested);
  EXPECT_NE(run.loaded->help_text.find("--batch-size"), std::string::npos);
  EXPECT_NE(run.loaded->help_text.find("(env STOCKGATE_BATCH_SIZE; default 42)"),
            std::string::npos);
  EXPECT_EQ(run.loaded->help_text.find("--redis-prefix"), std::string::npos);  // hidden
}

TEST(LoaderTest, HostPortListsAreCommaSeparatedAndEveryItemIsChecked) {
  const core::Result<std::vector<HostPort>> three =
      ParseHostPortList("127.0.0.1:7000,[::1]:7001,redis-a:7002");
  ASSERT_TRUE(three.ok()) << three.error();
  ASSERT_EQ(three->size(), 3U);
  EXPECT_EQ((*three)[0].host, "127.0.0.1");
  EXPECT_EQ((*three)[0].port, 7000);
  EXPECT_EQ((*three)[1].host, "::1");
  EXPECT_EQ((*three)[2].host, "redis-a");
  EXPECT_EQ((*three)[2].port, 7002);
  EXPECT_TRUE(ParseHostPortList("")->empty());
  for (const char* bad : {",", "127.0.0.1:7000,", "127.0.0.1:7000,,127.0.0.1:7001",
                          "127.0.0.1:7000 127.0.0.1:7001", "127.0.0.1"}) {
    EXPECT_FALSE(ParseHostPortList(bad).ok()) << bad;
  }
  EXPECT_NE(CheckHostPortList("127.0.0.1:1,127.0.0.1:0").error().find("item 2"), std::string::npos);
}

}  // namespace
}  // namespace stockgate::config
