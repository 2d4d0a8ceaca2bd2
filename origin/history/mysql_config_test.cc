// MySQL URIs as the --mysql flags take them: every part optional, escapes decoded, bad ones
// refused with a reason and the config left alone.
#include "origin/history/mysql_config.h"

#include <gtest/gtest.h>

namespace stockgate::history {
namespace {

// A full URI sets every field it names.
TEST(MySqlUriTest, ParsesEveryPart) {
  const core::Result<MySqlConfig> parsed =
      ParseMySqlUri("mysql://app:p%40ss@db.local:3307/shop?socket=/run/my.sock");
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  const MySqlConfig& c = *parsed;
  EXPECT_EQ(c.user, "app");
  EXPECT_EQ(c.password, "p@ss");
  EXPECT_EQ(c.host, "db.local");
  EXPECT_EQ(c.port, 3307);
  EXPECT_EQ(c.database, "shop");
  EXPECT_EQ(c.socket, "/run/my.sock");
  const core::Result<MySqlConfig> tls = ParseMySqlUri(
      "mysql://app@db.local/shop?tls-ca=/etc/ca%2B.pem&tls-cert=/etc/c.pem&tls-key=/etc/k.pem");
  ASSERT_TRUE(tls.ok()) << tls.error();
  EXPECT_EQ(tls->tls_ca, "/etc/ca+.pem");
  EXPECT_EQ(tls->tls_cert, "/etc/c.pem");
  EXPECT_EQ(tls->tls_key, "/etc/k.pem");
}

// Parts left out keep their current values.
TEST(MySqlUriTest, KeepsWhatIsLeftOut) {
  MySqlConfig base;
  base.password = "secret";
  core::Result<MySqlConfig> parsed = ParseMySqlUri("mariadb://127.0.0.1:3310", base);
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  MySqlConfig c = *parsed;
  EXPECT_EQ(c.port, 3310);
  EXPECT_EQ(c.user, "root");
  EXPECT_EQ(c.password, "secret");
  EXPECT_EQ(c.database, "stockgate");
  parsed = ParseMySqlUri("mysql:///other", c);
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  c = *parsed;
  EXPECT_EQ(c.host, "127.0.0.1");
  EXPECT_EQ(c.database, "other");
}

// Malformed URIs are refused with a message naming what is wrong.
TEST(MySqlUriTest, RefusesMalformed) {
  for (const char* bad :
       {"127.0.0.1:3306", "mysql://h:0", "mysql://h:99999", "mysql://h:x", "mysql://h/db-name",
        "mysql://u%zz@h", "mysql://h?sock=/x", "mysql://h?socket", "mysql://h?tls-cert=/c",
        "mysql://h?tls-ca=/a&tls-key=/k", "mysql://h?tls-cert=/c&tls-key=/k"}) {
    const core::Result<MySqlConfig> parsed = ParseMySqlUri(bad);
    EXPECT_EQ(parsed.code(), core::Code::kInvalidRequest) << bad;
    EXPECT_FALSE(parsed.error().empty()) << bad;
    EXPECT_EQ(CheckMySqlUri(bad).error(), parsed.error()) << bad;
  }
  EXPECT_EQ(ParseMySqlUri("mysql://h:x").error(), "bad port in MySQL URI: x");
  EXPECT_EQ(ParseMySqlUri("mysql://h?tls-ca=/a&tls-key=/k").error(),
            "tls-cert and tls-key go together in a MySQL URI");
  EXPECT_TRUE(CheckMySqlUri("mysql://h:1/db").ok());
}

}  // namespace
}  // namespace stockgate::history
