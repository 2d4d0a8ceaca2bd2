// MySQL URIs as the --mysql flags take them: every part optional, escapes decoded, bad ones
// refused with a reason and the config left alone.
#include "origin/history/mysql_config.h"

#include <gtest/gtest.h>

namespace stockgate::history {
namespace {

// A full URI sets every field it names.
TEST(MySqlUriTest, ParsesEveryPart) {
  MySqlConfig c;
  std::string error;
  ASSERT_TRUE(
      ParseMySqlUri("mysql://app:p%40ss@db.local:3307/shop?socket=/run/my.sock", &c, &error))
      << error;
  EXPECT_EQ(c.user, "app");
  EXPECT_EQ(c.password, "p@ss");
  EXPECT_EQ(c.host, "db.local");
  EXPECT_EQ(c.port, 3307);
  EXPECT_EQ(c.database, "shop");
  EXPECT_EQ(c.socket, "/run/my.sock");
}

// Parts left out keep their current values.
TEST(MySqlUriTest, KeepsWhatIsLeftOut) {
  MySqlConfig c;
  c.password = "secret";
  std::string error;
  ASSERT_TRUE(ParseMySqlUri("mariadb://127.0.0.1:3310", &c, &error)) << error;
  EXPECT_EQ(c.port, 3310);
  EXPECT_EQ(c.user, "root");
  EXPECT_EQ(c.password, "secret");
  EXPECT_EQ(c.database, "stockgate");
  ASSERT_TRUE(ParseMySqlUri("mysql:///other", &c, &error)) << error;
  EXPECT_EQ(c.host, "127.0.0.1");
  EXPECT_EQ(c.database, "other");
}

// Malformed URIs are refused and change nothing.
TEST(MySqlUriTest, RefusesMalformed) {
  for (const char* bad :
       {"127.0.0.1:3306", "mysql://h:0", "mysql://h:99999", "mysql://h:x", "mysql://h/db-name",
        "mysql://u%zz@h", "mysql://h?sock=/x", "mysql://h?socket"}) {
    MySqlConfig c;
    std::string error;
    EXPECT_FALSE(ParseMySqlUri(bad, &c, &error)) << bad;
    EXPECT_FALSE(error.empty()) << bad;
    EXPECT_EQ(c.port, 3306) << bad;
    EXPECT_EQ(c.host, "127.0.0.1") << bad;
  }
}

}  // namespace
}  // namespace stockgate::history
