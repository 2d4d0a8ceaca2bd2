// GrpcServer over real gRPC against a real redis-server, wired as main() wires it, on a free port:
// every call of both seeds' services, bad input, tokens, concurrent sales, Redis lost, health and
// shutdown. tests/grpc.test.mjs drives the built origin with grpc-js and Python clients; this suite
// runs the server's own code in-process, so the sanitizer build checks it too.
#include "origin/grpc/grpc_server.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "inventory/inventory.grpc.pb.h"
#include "inventory/v1/inventory.grpc.pb.h"
#include "origin/server/api.h"
#include "origin/server/jwt_auth.h"
#include "origin/store/redis_inventory_store.h"
#include "origin/store/redis_pipeline.h"
#include "tests/support/clock.h"
#include "tests/support/redis_server.h"

namespace stockgate::grpcapi {
namespace {

using grpc::StatusCode;
const char* const kSecret = "grpc-test-secret-grpc-test-secret-grpc";

constexpr auto NowMs = testing::WallClockMs;

// grpc.health.v1.Health/Check for the whole server ("") on a generic stub (Debian ships no
// generated health client): the status number of its answer (1 SERVING, 2 NOT_SERVING), or -1.
int HealthStatus(const std::shared_ptr<grpc::Channel>& channel) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::Slice empty;  // HealthCheckRequest{service: ""}: no bytes at all
  grpc::ByteBuffer request(&empty, 1);
  grpc::ByteBuffer response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&done](grpc::Status s) { done.set_value(std::move(s)); });
  if (!done.get_future().get().ok()) return -1;
  std::vector<grpc::Slice> slices;
  if (!response.Dump(&slices).ok()) return -1;
  std::string bytes;
  for (const grpc::Slice& s : slices)
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  // HealthCheckResponse{status = 1}: field 1, varint.
  return bytes.size() == 2 && bytes[0] == 0x08 ? bytes[1] : -1;
}

class GrpcServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    redis_ = testing::RedisServer::Start();
    ASSERT_NE(redis_, nullptr);
    store::RedisConfig rc;
    rc.port = redis_->port();
    pool_ = std::make_unique<store::RedisPipeline>(rc);
    store_ = std::make_unique<store::RedisInventoryStore>(*pool_, store::RedisStoreConfig{"sg"});
    auth_ = std::make_unique<server::JwtAuth>(kSecret);
    api_ = std::make_unique<server::Api>(
        *store_, /*history=*/nullptr, *auth_, server::ApiConfig{}, [this] { return pool_->Ping(); },
        [] { return std::string(); });
    GrpcOptions options;
    options.health_interval_ms = 50;
    server_ = std::make_unique<GrpcServer>(
        *api_, options, NowMs, [this] { return pool_->Ping(); }, &registry_);
    port_ = server_->Start();
    ASSERT_GT(port_, 0);
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(port_),
                                   grpc::InsecureChannelCredentials());
    v0_ = inventory::InventoryService::NewStub(channel_);
    v1_ = inventory::v1::InventoryService::NewStub(channel_);
    admin_ = Token(*auth_, server::Role::kAdmin, "ops");
    service_ = Token(*auth_, server::Role::kService, "orders");
  }

  void TearDown() override {
    if (server_) server_->Stop();
    if (pool_) pool_->Close();  // while everything its callbacks reach still exists
  }

  static std::string Token(const server::JwtAuth& auth, server::Role role, std::string sub,
                           std::int64_t ttl_s = 600) {
    return auth.Mint({std::move(sub), role, NowMs() / 1000 + ttl_s}).value();
  }

  // A client context carrying `token` (none when empty), with a deadline no call here reaches
  // unless the server hangs.
  static std::unique_ptr<grpc::ClientContext> Ctx(const std::string& token) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    if (!token.empty()) ctx->AddMetadata("authorization", "Bearer " + token);
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return ctx;
  }

  inventory::InventoryResponse Get(std::int64_t product) {
    inventory::GetInventoryRequest req;
    req.set_product_id(product);
    inventory::InventoryResponse resp;
    const grpc::Status s = v0_->GetInventory(Ctx(admin_).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }

  grpc::Status Set(std::int64_t product, std::int32_t stock, const std::string& token) {
    inventory::SetInventoryRequest req;
    req.set_product_id(product);
    req.set_stock(stock);
    req.set_operator_("ops");
    inventory::InventoryResponse resp;
    return v0_->SetInventory(Ctx(token).get(), req, &resp);
  }

  grpc::Status Lock(const std::string& key, std::int64_t product, std::int32_t qty,
                    inventory::LockInventoryResponse* resp) {
    inventory::LockInventoryRequest req;
    req.set_lock_key(key);
    inventory::LockItem* item = req.add_items();
    item->set_product_id(product);
    item->set_quantity(qty);
    return v0_->LockInventory(Ctx(service_).get(), req, resp);
  }

  grpc::Status Deduct(std::uint64_t book, std::int32_t qty, std::uint64_t order,
                      inventory::v1::DeductStockResponse* resp) {
    inventory::v1::DeductStockRequest req;
    req.set_book_id(book);
    req.set_quantity(qty);
    req.set_order_id(order);
    return v1_->DeductStock(Ctx(service_).get(), req, resp);
  }

  grpc::Status Restock(std::uint64_t book, std::int32_t qty,
                       inventory::v1::RestockInventoryResponse* resp) {
    inventory::v1::RestockInventoryRequest req;
    req.set_book_id(book);
    req.set_quantity(qty);
    return v1_->RestockInventory(Ctx(admin_).get(), req, resp);
  }

  grpc::Status Release(std::uint64_t book, std::int32_t qty, std::uint64_t order,
                       inventory::v1::ReleaseStockResponse* resp) {
    inventory::v1::ReleaseStockRequest req;
    req.set_book_id(book);
    req.set_quantity(qty);
    req.set_order_id(order);
    return v1_->ReleaseStock(Ctx(service_).get(), req, resp);
  }

  inventory::v1::GetStockResponse Stock(std::uint64_t book) {
    inventory::v1::GetStockRequest req;
    req.set_book_id(book);
    inventory::v1::GetStockResponse resp;
    const grpc::Status s = v1_->GetStock(Ctx(service_).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }

  // stockgate_grpc_requests_total{method, code}, 0 when never counted.
  double Counted(const std::string& method, const std::string& code) {
    for (const auto& family : registry_.Collect()) {
      if (family.name != "stockgate_grpc_requests_total") continue;
      for (const auto& metric : family.metric) {
        std::string m;
        std::string c;
        for (const auto& label : metric.label) {
          if (label.name == "method") m = label.value;
          if (label.name == "code") c = label.value;
        }
        if (m == method && c == code) return metric.counter.value;
      }
    }
    return 0;
  }

  std::unique_ptr<testing::RedisServer> redis_;
  std::unique_ptr<store::RedisPipeline> pool_;
  std::unique_ptr<store::RedisInventoryStore> store_;
  std::unique_ptr<server::JwtAuth> auth_;
  std::unique_ptr<server::Api> api_;
  prometheus::Registry registry_;
  std::unique_ptr<GrpcServer> server_;
  int port_ = 0;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<inventory::InventoryService::Stub> v0_;
  std::unique_ptr<inventory::v1::InventoryService::Stub> v1_;
  std::string admin_;
  std::string service_;
};

// Seed 000's calls, each through the Api and back: stock set, adjusted, read one and many; a hold
// locked, refused with its fail item, unlocked, confirmed; section 3's calls; history without a
// history database is UNAVAILABLE.
TEST_F(GrpcServerTest, Seed000CallsAnswerThroughTheApi) {
  ASSERT_TRUE(Set(1, 10, admin_).ok());
  EXPECT_EQ(Get(1).available(), 10);

  inventory::InventoryOperationRequest op;
  op.set_product_id(1);
  op.set_quantity(5);
  op.set_operator_("ops");
  inventory::InventoryResponse adjusted;
  ASSERT_TRUE(v0_->AddInventory(Ctx(admin_).get(), op, &adjusted).ok());
  EXPECT_EQ(adjusted.available(), 15);
  op.set_quantity(3);
  ASSERT_TRUE(v0_->ReduceInventory(Ctx(admin_).get(), op, &adjusted).ok());
  EXPECT_EQ(adjusted.available(), 12);

  inventory::BatchGetInventoryRequest batch;
  batch.add_product_ids(1);
  inventory::BatchInventoryResponse many;
  ASSERT_TRUE(v0_->BatchGetInventory(Ctx(admin_).get(), batch, &many).ok());
  ASSERT_EQ(many.inventories_size(), 1);
  EXPECT_EQ(many.inventories(0).available(), 12);

  inventory::LockInventoryResponse locked;
  ASSERT_TRUE(Lock("o-1", 1, 2, &locked).ok());
  EXPECT_TRUE(locked.success());
  EXPECT_EQ(Get(1).locked(), 2);
  inventory::LockInventoryResponse refused;
  ASSERT_TRUE(Lock("o-2", 1, 100, &refused).ok());
  EXPECT_FALSE(refused.success());
  ASSERT_EQ(refused.fail_items_size(), 1);
  EXPECT_EQ(refused.fail_items(0).available(), 10);

  inventory::UnlockInventoryRequest unlock;
  unlock.set_lock_key("o-1");
  google::protobuf::Empty empty;
  ASSERT_TRUE(v0_->UnlockInventory(Ctx(service_).get(), unlock, &empty).ok());
  EXPECT_EQ(Get(1).available(), 12);
  ASSERT_TRUE(Lock("o-3", 1, 4, &locked).ok());
  inventory::ConfirmReduceRequest confirm;
  confirm.set_lock_key("o-3");
  ASSERT_TRUE(v0_->ConfirmInventoryReduce(Ctx(service_).get(), confirm, &empty).ok());
  EXPECT_EQ(Get(1).available(), 8);
  EXPECT_EQ(Get(1).locked(), 0);

  inventory::GoodsInvInfo goods;
  goods.set_goods_id(7);
  goods.set_num(3);
  ASSERT_TRUE(v0_->SetInv(Ctx(admin_).get(), goods, &empty).ok());
  inventory::SellInfo sale;
  sale.set_order_sn("s-1");
  inventory::GoodsInvInfo* line = sale.add_goods_info();
  line->set_goods_id(7);
  line->set_num(2);
  ASSERT_TRUE(v0_->Sell(Ctx(service_).get(), sale, &empty).ok());
  inventory::GoodsInvInfo detail;
  ASSERT_TRUE(v0_->InvDetail(Ctx(admin_).get(), goods, &detail).ok());
  EXPECT_EQ(detail.num(), 1);
  ASSERT_TRUE(v0_->Reback(Ctx(service_).get(), sale, &empty).ok());
  ASSERT_TRUE(v0_->InvDetail(Ctx(admin_).get(), goods, &detail).ok());
  EXPECT_EQ(detail.num(), 3);

  inventory::GetInventoryHistoryRequest history;
  history.set_product_id(1);
  inventory::InventoryHistoryListResponse page;
  EXPECT_EQ(v0_->GetInventoryHistory(Ctx(admin_).get(), history, &page).error_code(),
            StatusCode::UNAVAILABLE);
}

// Seed 004's calls, with the retry of a deduction and of a release changing nothing, and the
// calls counted by method and code.
TEST_F(GrpcServerTest, Seed004CallsAnswerThroughTheApi) {
  ASSERT_TRUE(Set(5, 0, admin_).ok());  // a restock adds to a SKU that exists
  inventory::v1::RestockInventoryResponse restocked;
  ASSERT_TRUE(Restock(5, 10, &restocked).ok());
  EXPECT_EQ(restocked.message(), "restocked");
  EXPECT_EQ(restocked.current_stock(), 10);
  EXPECT_EQ(Stock(5).total_stock(), 10);

  inventory::v1::DeductStockResponse deducted;
  ASSERT_TRUE(Deduct(5, 3, 42, &deducted).ok());
  EXPECT_EQ(deducted.message(), "deducted");
  EXPECT_EQ(deducted.remaining_stock(), 7);
  ASSERT_TRUE(Deduct(5, 3, 42, &deducted).ok());
  EXPECT_EQ(deducted.message(), "order already processed (a retry: nothing changed)");
  EXPECT_EQ(deducted.remaining_stock(), 7);

  inventory::v1::ReleaseStockResponse released;
  ASSERT_TRUE(Release(5, 3, 42, &released).ok());
  EXPECT_EQ(released.message(), "released");
  EXPECT_EQ(released.current_stock(), 10);
  ASSERT_TRUE(Release(5, 3, 42, &released).ok());
  EXPECT_EQ(released.message(), "order already released (a retry: nothing changed)");
  EXPECT_EQ(released.current_stock(), 10);
  EXPECT_EQ(Release(5, 3, 4040, &released).error_code(), StatusCode::NOT_FOUND);  // never placed
  EXPECT_EQ(Release(5, 3, 0, &released).error_code(), StatusCode::INVALID_ARGUMENT);

  inventory::v1::BatchGetStockRequest batch;
  batch.add_book_ids(5);
  inventory::v1::BatchGetStockResponse many;
  ASSERT_TRUE(v1_->BatchGetStock(Ctx(service_).get(), batch, &many).ok());
  ASSERT_EQ(many.stocks_size(), 1);
  EXPECT_EQ(many.stocks(0).stock(), 10);

  inventory::v1::GetInventoryLogsRequest logs;
  logs.set_book_id(5);
  inventory::v1::GetInventoryLogsResponse page;
  EXPECT_EQ(v1_->GetInventoryLogs(Ctx(service_).get(), logs, &page).error_code(),
            StatusCode::UNAVAILABLE);
  EXPECT_EQ(Counted("DeductStock", "OK"), 2);
  EXPECT_EQ(Counted("GetInventoryLogs", "UNAVAILABLE"), 1);
}

// Refused before the Api (translation) or by it: INVALID_ARGUMENT, the Api's error body in the
// stockgate-error-bin trailer, nothing changed; a message over the body limit is not read.
TEST_F(GrpcServerTest, BadInputIsRefusedAndChangesNothing) {
  ASSERT_TRUE(Set(1, 10, admin_).ok());

  inventory::SetInventoryRequest negative;
  negative.set_product_id(1);
  negative.set_stock(-1);
  inventory::InventoryResponse resp;
  auto ctx = Ctx(admin_);
  EXPECT_EQ(v0_->SetInventory(ctx.get(), negative, &resp).error_code(),
            StatusCode::INVALID_ARGUMENT);
  const auto& trailers = ctx->GetServerTrailingMetadata();
  const auto error = trailers.find("stockgate-error-bin");
  ASSERT_NE(error, trailers.end());
  EXPECT_NE(std::string(error->second.data(), error->second.size()).find("\"error\""),
            std::string::npos);

  inventory::LockInventoryResponse locked;
  EXPECT_EQ(Lock("", 1, 1, &locked).error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Lock("o-1", 1, 0, &locked).error_code(), StatusCode::INVALID_ARGUMENT);
  inventory::v1::DeductStockResponse deducted;
  EXPECT_EQ(Deduct(1, 1, 0, &deducted).error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Deduct(1, 0, 9, &deducted).error_code(), StatusCode::INVALID_ARGUMENT);
  inventory::v1::RestockInventoryResponse restocked;
  EXPECT_EQ(Restock(1, 0, &restocked).error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Restock(1, -5, &restocked).error_code(), StatusCode::INVALID_ARGUMENT);
  inventory::InventoryOperationRequest op;
  op.set_product_id(1);
  op.set_quantity(-4);
  EXPECT_EQ(v0_->AddInventory(Ctx(admin_).get(), op, &resp).error_code(),
            StatusCode::INVALID_ARGUMENT);

  inventory::LockInventoryRequest huge;
  huge.set_lock_key(std::string(70 * 1024, 'k'));
  inventory::LockItem* item = huge.add_items();
  item->set_product_id(1);
  item->set_quantity(1);
  EXPECT_EQ(v0_->LockInventory(Ctx(service_).get(), huge, &locked).error_code(),
            StatusCode::RESOURCE_EXHAUSTED);

  EXPECT_EQ(Get(1).available(), 10);
  EXPECT_EQ(Get(1).locked(), 0);
}

// No token, a token signed with another key, an expired one: UNAUTHENTICATED; a viewer setting
// stock: PERMISSION_DENIED. None of them changes the stock.
TEST_F(GrpcServerTest, TokensAndRoles) {
  ASSERT_TRUE(Set(1, 10, admin_).ok());
  const server::JwtAuth other("another-secret-another-secret-another-s");
  EXPECT_EQ(Set(1, 99, "").error_code(), StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Set(1, 99, Token(other, server::Role::kAdmin, "ops")).error_code(),
            StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Set(1, 99, Token(*auth_, server::Role::kAdmin, "ops", -60)).error_code(),
            StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Set(1, 99, Token(*auth_, server::Role::kViewer, "watcher")).error_code(),
            StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Get(1).available(), 10);
}

// Buyers on many threads, one unit each under its own order: exactly the stock is sold.
TEST_F(GrpcServerTest, ConcurrentDeductionsSellExactlyTheStock) {
  ASSERT_TRUE(Set(9, 20, admin_).ok());
  std::atomic<int> sold{0};
  std::atomic<int> refused{0};
  std::atomic<int> other{0};
  std::vector<std::thread> buyers;
  for (int t = 0; t < 6; ++t) {
    buyers.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        inventory::v1::DeductStockResponse resp;
        const grpc::Status s = Deduct(9, 1, 1000 + t * 100 + i, &resp);
        if (s.ok()) {
          ++sold;
        } else if (s.error_code() == StatusCode::FAILED_PRECONDITION) {
          ++refused;
        } else {
          ++other;
        }
      }
    });
  }
  for (std::thread& b : buyers) b.join();
  EXPECT_EQ(sold.load(), 20);
  EXPECT_EQ(refused.load(), 40);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(Stock(9).stock(), 0);
}

// Health says SERVING while Redis answers; Redis killed: calls are UNAVAILABLE (not left to their
// deadline), health turns NOT_SERVING, and the server keeps answering.
TEST_F(GrpcServerTest, RedisLostIsUnavailableAndHealthSaysSo) {
  int status = -1;
  for (int i = 0; i < 100 && status != 1; ++i) {
    status = HealthStatus(channel_);
    if (status != 1) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(status, 1);
  redis_->Kill();
  inventory::v1::GetStockRequest req;
  req.set_book_id(1);
  inventory::v1::GetStockResponse resp;
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(v1_->GetStock(Ctx(service_).get(), req, &resp).error_code(), StatusCode::UNAVAILABLE);
  }
  for (int i = 0; i < 100 && status != 2; ++i) {
    status = HealthStatus(channel_);
    if (status != 2) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(status, 2);
}

// Stop is idempotent; afterwards nothing answers.
TEST_F(GrpcServerTest, StopEndsServing) {
  ASSERT_TRUE(Set(1, 10, admin_).ok());
  EXPECT_EQ(Get(1).available(), 10);
  server_->Stop();
  server_->Stop();
  inventory::v1::GetStockRequest req;
  req.set_book_id(1);
  inventory::v1::GetStockResponse resp;
  auto ctx = Ctx(service_);
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  EXPECT_EQ(v1_->GetStock(ctx.get(), req, &resp).error_code(), StatusCode::UNAVAILABLE);
}

}  // namespace
}  // namespace stockgate::grpcapi
