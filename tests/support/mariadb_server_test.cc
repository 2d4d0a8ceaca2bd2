#include "tests/support/mariadb_server.h"

#include <gtest/gtest.h>
#include <mysql.h>

#include <chrono>
#include <memory>
#include <string>

namespace stockgate::testing {
namespace {

struct MysqlCloser {
  void operator()(MYSQL* mysql) const { mysql_close(mysql); }
};
using Connection = std::unique_ptr<MYSQL, MysqlCloser>;

// Connects as root over TCP to 127.0.0.1:port, database stockgate. Null on failure, with the
// client's message in *error.
Connection ConnectTcp(int port, unsigned int connect_timeout_s, std::string* error) {
  Connection mysql(mysql_init(nullptr));
  if (!mysql) {
    *error = "mysql_init failed";
    return nullptr;
  }
  const unsigned int protocol = MYSQL_PROTOCOL_TCP;
  mysql_options(mysql.get(), MYSQL_OPT_PROTOCOL, &protocol);
  mysql_options(mysql.get(), MYSQL_OPT_CONNECT_TIMEOUT, &connect_timeout_s);
  if (mysql_real_connect(mysql.get(), "127.0.0.1", "root", "", "stockgate",
                         static_cast<unsigned int>(port), nullptr, 0) == nullptr) {
    *error = mysql_error(mysql.get());
    return nullptr;
  }
  return mysql;
}

// Runs a statement; returns the first column of the first row ("" when there is none), or
// "ERROR: ..." when it fails.
std::string Query(MYSQL* mysql, const std::string& sql) {
  if (mysql_real_query(mysql, sql.data(), sql.size()) != 0) {
    std::string error = "ERROR: ";
    error += mysql_error(mysql);
    return error;
  }
  MYSQL_RES* result = mysql_store_result(mysql);
  if (result == nullptr) return {};
  std::string value;
  MYSQL_ROW row = mysql_fetch_row(result);
  if (row != nullptr && row[0] != nullptr) value = row[0];
  mysql_free_result(result);
  return value;
}

class MariaDbServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    server_ = MariaDbServer::Start({}, &error);
    ASSERT_NE(server_, nullptr) << error;
  }

  std::unique_ptr<MariaDbServer> server_;
};

// Start returns a running server that takes root over TCP from 127.0.0.1 into a created database.
TEST_F(MariaDbServerTest, AcceptsRootOverTcpOnItsPort) {
  EXPECT_TRUE(server_->running());
  EXPECT_GT(server_->port(), 0);
  EXPECT_LT(server_->socket().size(), 108u);
  std::string error;
  Connection mysql = ConnectTcp(server_->port(), 5, &error);
  ASSERT_TRUE(mysql) << error;
  EXPECT_EQ(Query(mysql.get(), "SELECT DATABASE()"), "stockgate");
  EXPECT_EQ(Query(mysql.get(), "SELECT @@innodb_flush_log_at_trx_commit"), "1");
}

// A row committed before a SIGKILL is there after Restart (InnoDB crash recovery, same data dir).
TEST_F(MariaDbServerTest, CommittedRowSurvivesKillAndRestart) {
  std::string error;
  {
    Connection mysql = ConnectTcp(server_->port(), 5, &error);
    ASSERT_TRUE(mysql) << error;
    ASSERT_EQ(Query(mysql.get(), "CREATE TABLE t (id INT PRIMARY KEY, v TEXT) ENGINE=InnoDB"), "");
    ASSERT_EQ(Query(mysql.get(), "INSERT INTO t VALUES (1, 'kept')"), "");  // autocommit
    const pid_t before = server_->pid();
    server_->Kill();
    EXPECT_FALSE(server_->running());
    const MariaDbServer::Status restarted = server_->Restart();
    ASSERT_TRUE(restarted.ok()) << restarted.error();
    EXPECT_NE(server_->pid(), before);
  }
  Connection mysql = ConnectTcp(server_->port(), 5, &error);
  ASSERT_TRUE(mysql) << error;
  EXPECT_EQ(Query(mysql.get(), "SELECT v FROM t WHERE id = 1"), "kept");
}

// A paused server makes a connect with a 1 s timeout fail within a few seconds; Resume heals it.
TEST_F(MariaDbServerTest, PauseStallsConnectsAndResumeRestoresThem) {
  server_->Pause();
  std::string error;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(ConnectTcp(server_->port(), 1, &error));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5)) << error;
  server_->Resume();
  Connection mysql = ConnectTcp(server_->port(), 5, &error);
  ASSERT_TRUE(mysql) << error;
  EXPECT_EQ(Query(mysql.get(), "SELECT 1"), "1");
}

}  // namespace
}  // namespace stockgate::testing
