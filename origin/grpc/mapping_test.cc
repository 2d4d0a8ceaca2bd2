// The gRPC translation without sockets: each seed message through mapping.cc and the real Api in
// front of the reference model, so the answers are the HTTP API's own: all-or-nothing locks with
// fail_items, replays, conflicts, bad input refused with nothing changed, the role matrix, a lost
// store, giving an order back, history paging, and one gRPC status for every API code.
#include "origin/grpc/mapping.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "origin/history/history_reader.h"
#include "origin/server/jwt_auth.h"
#include "tests/support/model_store.h"

namespace stockgate::grpcapi {
namespace {

using nlohmann::json;
using server::Role;

constexpr std::int64_t kT0 = 1'800'000'000'000;
const char* const kSecret = "test-secret-test-secret-test-secret!";

class ScriptedHistory final : public history::HistoryReader {
 public:
  history::HistoryPage History(const history::HistoryQuery& q) override {
    queries.push_back(q);
    return page;
  }
  history::SummaryResult Summary(const history::SummaryQuery&) override { return {}; }
  bool Ping() override { return true; }
  history::ArchivedReservation Reservation(const std::string&) override {
    history::ArchivedReservation none;
    none.code = core::Code::kNotFound;
    none.message = "not found";
    return none;
  }
  history::HistoryPage page;
  std::vector<history::HistoryQuery> queries;
};

class MappingTest : public ::testing::Test {
 protected:
  MappingTest() : auth_(kSecret) {
    api_ = std::make_unique<server::Api>(
        store_, &history_, auth_, server::ApiConfig{}, [] { return true; },
        [] { return std::string(); });
    Stock(7, 5);
  }

  std::string Token(Role role) {
    return "Bearer " +
           auth_.Mint({std::string(server::RoleName(role)), role, kT0 / 1000 + 3600}).value();
  }

  // What the gRPC server does with one request: the caller's metadata, then the Api.
  HttpResponse Send(HttpRequest r, Role role = Role::kService) {
    r.authorization = Token(role);
    r.remote_addr = "127.0.0.1";
    return api_->Handle(r, kT0);
  }
  HttpResponse SendAnonymous(HttpRequest r) {
    r.remote_addr = "127.0.0.1";
    return api_->Handle(r, kT0);
  }

  void Stock(std::int64_t sku, std::int32_t on_hand) {
    inventory::SetInventoryRequest set;
    set.set_product_id(sku);
    set.set_stock(on_hand);
    inventory::InventoryResponse out;
    ASSERT_TRUE(ToProto(Send(FromProto(set), Role::kAdmin), &out).ok());
  }

  inventory::InventoryResponse Read(std::int64_t sku) {
    inventory::GetInventoryRequest get;
    get.set_product_id(sku);
    inventory::InventoryResponse out;
    EXPECT_TRUE(ToProto(Send(FromProto(get)), &out).ok());
    return out;
  }

  static inventory::LockInventoryRequest Lock(const std::string& key, std::int64_t sku,
                                              std::int32_t qty) {
    inventory::LockInventoryRequest lock;
    lock.set_lock_key(key);
    auto* item = lock.add_items();
    item->set_product_id(sku);
    item->set_quantity(qty);
    return lock;
  }

  testing::ModelStore store_;
  ScriptedHistory history_;
  server::JwtAuth auth_;
  std::unique_ptr<server::Api> api_;
};

TEST_F(MappingTest, EveryApiCodeHasOneStatus) {
  const std::map<core::Code, grpc::StatusCode> expected = {
      {core::Code::kOk, grpc::StatusCode::OK},
      {core::Code::kInvalidRequest, grpc::StatusCode::INVALID_ARGUMENT},
      {core::Code::kUnauthenticated, grpc::StatusCode::UNAUTHENTICATED},
      {core::Code::kForbidden, grpc::StatusCode::PERMISSION_DENIED},
      {core::Code::kNotFound, grpc::StatusCode::NOT_FOUND},
      {core::Code::kUnknownSku, grpc::StatusCode::NOT_FOUND},
      {core::Code::kInsufficientStock, grpc::StatusCode::FAILED_PRECONDITION},
      {core::Code::kIdempotencyConflict, grpc::StatusCode::ALREADY_EXISTS},
      {core::Code::kInvalidState, grpc::StatusCode::FAILED_PRECONDITION},
      {core::Code::kCustomerLimitExceeded, grpc::StatusCode::FAILED_PRECONDITION},
      {core::Code::kReservationExpired, grpc::StatusCode::FAILED_PRECONDITION},
      {core::Code::kPayloadTooLarge, grpc::StatusCode::INVALID_ARGUMENT},
      {core::Code::kRateLimited, grpc::StatusCode::RESOURCE_EXHAUSTED},
      {core::Code::kUnavailable, grpc::StatusCode::UNAVAILABLE},
  };
  ASSERT_EQ(expected.size(), static_cast<std::size_t>(core::kCodeCount));
  for (const auto& [code, status] : expected) {
    EXPECT_EQ(GrpcCode(code), status) << core::CodeName(code);
    if (code == core::Code::kOk) continue;
    const grpc::Status s = StatusOf(server::ErrorResponse(code, "why"));
    EXPECT_EQ(s.error_code(), status) << core::CodeName(code);
    EXPECT_EQ(s.error_message(), "why");
    // The API's error body rides along as the details.
    EXPECT_EQ(json::parse(s.error_details())["error"]["code"], core::CodeName(code));
  }
}

TEST_F(MappingTest, ReadsCarryTheSeedsFields) {
  const inventory::InventoryResponse r = Read(7);
  EXPECT_EQ(r.product_id(), 7);
  EXPECT_EQ(r.stock(), 5);
  EXPECT_EQ(r.locked(), 0);
  EXPECT_EQ(r.available(), 5);
  EXPECT_GT(r.updated_at().seconds(), 0);

  inventory::v1::GetStockRequest get;
  get.set_book_id(7);
  inventory::v1::GetStockResponse v1;
  ASSERT_TRUE(ToProto(Send(FromProto(get)), &v1).ok());
  EXPECT_EQ(v1.book_id(), 7u);
  EXPECT_EQ(v1.stock(), 5);
  EXPECT_EQ(v1.total_stock(), 5);

  // A batch leaves out SKUs never set, as the seed's store does; an unknown single one is
  // NOT_FOUND.
  inventory::BatchGetInventoryRequest batch;
  batch.add_product_ids(7);
  batch.add_product_ids(99);
  inventory::BatchInventoryResponse list;
  ASSERT_TRUE(ToProto(Send(FromProto(batch)), &list).ok());
  ASSERT_EQ(list.inventories_size(), 1);
  EXPECT_EQ(list.inventories(0).product_id(), 7);
  inventory::GetInventoryRequest missing;
  missing.set_product_id(99);
  inventory::InventoryResponse none;
  EXPECT_EQ(ToProto(Send(FromProto(missing)), &none).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(MappingTest, LockIsAllOrNothingWithFailItemsAndReplays) {
  inventory::LockInventoryResponse out;
  ASSERT_TRUE(ToProto(Send(FromProto(Lock("o-1", 7, 3))), &out).ok());
  EXPECT_TRUE(out.success());
  EXPECT_EQ(out.message(), "locked");

  inventory::LockInventoryResponse replay;
  ASSERT_TRUE(ToProto(Send(FromProto(Lock("o-1", 7, 3))), &replay).ok());
  EXPECT_TRUE(replay.success());
  EXPECT_NE(replay.message(), "locked");
  EXPECT_EQ(Read(7).locked(), 3);

  // The same key with other items: a conflict, not a second lock.
  inventory::LockInventoryResponse conflict;
  EXPECT_EQ(ToProto(Send(FromProto(Lock("o-1", 7, 1))), &conflict).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);

  // Short: an answer with fail_items, nothing held.
  inventory::LockInventoryRequest two = Lock("o-2", 7, 1);
  auto* short_item = two.add_items();
  Stock(8, 1);
  short_item->set_product_id(8);
  short_item->set_quantity(4);
  inventory::LockInventoryResponse refused;
  ASSERT_TRUE(ToProto(Send(FromProto(two)), &refused).ok());
  EXPECT_FALSE(refused.success());
  ASSERT_EQ(refused.fail_items_size(), 1);
  EXPECT_EQ(refused.fail_items(0).product_id(), 8);
  EXPECT_EQ(refused.fail_items(0).quantity(), 4);
  EXPECT_EQ(refused.fail_items(0).available(), 1);
  EXPECT_EQ(Read(7).locked(), 3);
  EXPECT_EQ(Read(8).locked(), 0);

  // Confirm, then unlock of the sold order is refused; unlock of an unknown key is NOT_FOUND.
  inventory::ConfirmReduceRequest confirm;
  confirm.set_lock_key("o-1");
  google::protobuf::Empty empty;
  EXPECT_TRUE(ToProto(Send(FromProto(confirm)), &empty).ok());
  inventory::UnlockInventoryRequest unlock;
  unlock.set_lock_key("o-1");
  EXPECT_EQ(ToProto(Send(FromProto(unlock)), &empty).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  unlock.set_lock_key("nope");
  EXPECT_EQ(ToProto(Send(FromProto(unlock)), &empty).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(MappingTest, BadInputIsRefusedAndChangesNothing) {
  inventory::LockInventoryResponse out;
  for (const inventory::LockInventoryRequest& bad :
       {Lock("", 7, 1), Lock("o-1", 0, 1), Lock("o-1", -3, 1), Lock("o-1", 7, 0),
        Lock("o-1", 7, -1), Lock("bad key!", 7, 1)}) {
    EXPECT_EQ(ToProto(Send(FromProto(bad)), &out).error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << bad.DebugString();
  }
  inventory::LockInventoryRequest long_ttl = Lock("o-1", 7, 1);
  long_ttl.set_timeout_seconds(86'401);
  EXPECT_EQ(ToProto(Send(FromProto(long_ttl)), &out).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  grpc::Status refusal;
  inventory::InventoryOperationRequest add;
  add.set_product_id(7);
  add.set_quantity(-2);
  EXPECT_FALSE(FromProto(add, +1, "r-1", &refusal));
  EXPECT_EQ(refusal.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  inventory::v1::DeductStockRequest deduct;
  deduct.set_book_id(7);
  deduct.set_quantity(1);
  EXPECT_FALSE(FromProto(deduct, &refusal));  // order_id 0: unset
  EXPECT_EQ(refusal.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  // A book id above 2^63 - 1 is not a SKU.
  inventory::v1::GetStockRequest huge;
  huge.set_book_id(~0ULL);
  inventory::v1::GetStockResponse stock;
  EXPECT_EQ(ToProto(Send(FromProto(huge)), &stock).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  const inventory::InventoryResponse after = Read(7);
  EXPECT_EQ(after.stock(), 5);
  EXPECT_EQ(after.locked(), 0);
}

TEST_F(MappingTest, RolesAreTheApis) {
  inventory::LockInventoryResponse out;
  EXPECT_EQ(ToProto(SendAnonymous(FromProto(Lock("o-1", 7, 1))), &out).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(ToProto(Send(FromProto(Lock("o-1", 7, 1)), Role::kViewer), &out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  inventory::SetInventoryRequest set;
  set.set_product_id(7);
  set.set_stock(50);
  inventory::InventoryResponse stock;
  EXPECT_EQ(ToProto(Send(FromProto(set), Role::kService), &stock).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  HttpRequest forged = FromProto(set);
  forged.authorization = "Bearer " + server::JwtAuth("another-secret-another-secret-12345")
                                         .Mint({"x", Role::kAdmin, kT0 / 1000 + 3600})
                                         .value();
  forged.remote_addr = "127.0.0.1";
  EXPECT_EQ(ToProto(api_->Handle(forged, kT0), &stock).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Read(7).stock(), 5);
}

TEST_F(MappingTest, LostStoreIsUnavailable) {
  store_.set_unavailable(true);
  inventory::LockInventoryResponse out;
  EXPECT_EQ(ToProto(Send(FromProto(Lock("o-1", 7, 1))), &out).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST_F(MappingTest, AdjustmentsAreKeyedByTheirRequestId) {
  grpc::Status refusal;
  inventory::InventoryOperationRequest add;
  add.set_product_id(7);
  add.set_quantity(10);
  add.set_operator_("ops");
  add.set_remark("truck 4");
  const HttpRequest request = FromProto(add, +1, "r-1", &refusal).value();
  EXPECT_EQ(json::parse(request.body)["reason"], "ops: truck 4");
  inventory::InventoryResponse out;
  ASSERT_TRUE(ToProto(Send(request, Role::kAdmin), &out).ok());
  EXPECT_EQ(out.stock(), 15);
  ASSERT_TRUE(ToProto(Send(request, Role::kAdmin), &out).ok());  // a retry
  EXPECT_EQ(Read(7).stock(), 15);
  const HttpRequest reduce = FromProto(add, -1, "r-2", &refusal).value();
  ASSERT_TRUE(ToProto(Send(reduce, Role::kAdmin), &out).ok());
  EXPECT_EQ(out.stock(), 5);
}

TEST_F(MappingTest, GivingBackReleasesAHoldAndReturnsASale) {
  inventory::v1::DeductStockRequest deduct;
  deduct.set_book_id(7);
  deduct.set_quantity(2);
  deduct.set_order_id(1001);
  grpc::Status status;
  const HttpResponse sale = Send(FromProto(deduct, &status).value());
  ASSERT_EQ(sale.status, 201);
  EXPECT_EQ(Send(FromProto(deduct, &status).value()).status, 200);  // a retry
  EXPECT_EQ(Read(7).stock(), 3);

  const HttpResponse read = Send(ReservationRead("1001:7"));
  // The wrong quantity: refused, nothing sent.
  EXPECT_FALSE(GiveBack(read, {{7, 1}}, &status));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  const std::optional<HttpRequest> back = GiveBack(read, {{7, 2}}, &status);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->path, "/v1/reservations/1001:7/return");
  EXPECT_EQ(Send(*back).status, 200);
  EXPECT_EQ(Read(7).stock(), 5);
  // Given back already: nothing more to send.
  EXPECT_FALSE(GiveBack(Send(ReservationRead("1001:7")), {{7, 2}}, &status));
  EXPECT_TRUE(status.ok());

  // A hold is released.
  ASSERT_EQ(Send(FromProto(Lock("o-9", 7, 1))).status, 201);
  const std::optional<HttpRequest> release =
      GiveBack(Send(ReservationRead("o-9")), {{7, 1}}, &status);
  ASSERT_TRUE(release);
  EXPECT_EQ(release->path, "/v1/reservations/o-9/release");
  // An unknown order: the read's NOT_FOUND.
  EXPECT_FALSE(GiveBack(Send(ReservationRead("o-404")), {{7, 1}}, &status));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
}

// GiveBackOrder reads the order again when it moved between the read and the change: here a
// hold confirmed (by another caller) just before its release is returned instead.
TEST_F(MappingTest, GivingBackAnOrderThatMovedJudgesItAgain) {
  ASSERT_EQ(Send(FromProto(Lock("o-10", 7, 2))).status, 201);
  std::vector<std::string> sent;
  bool moved = false;
  const SendThen send = [&](HttpRequest r, std::function<void(const HttpResponse&)> then) {
    if (!moved && r.path == "/v1/reservations/o-10/release") {
      moved = true;
      inventory::ConfirmReduceRequest confirm;
      confirm.set_lock_key("o-10");
      ASSERT_EQ(Send(FromProto(confirm)).status, 200);
    }
    sent.push_back(r.method + " " + r.path);
    then(Send(std::move(r)));
  };
  std::optional<grpc::Status> outcome;
  bool changed = false;
  GiveBackOrder(send, "o-10", {{7, 2}}, [&](const grpc::Status& s, bool c) {
    outcome = s;
    changed = c;
  });
  ASSERT_TRUE(outcome);
  EXPECT_TRUE(outcome->ok()) << outcome->error_message();
  EXPECT_TRUE(changed);
  EXPECT_EQ(sent, (std::vector<std::string>{
                      "GET /v1/reservations/o-10", "POST /v1/reservations/o-10/release",
                      "GET /v1/reservations/o-10", "POST /v1/reservations/o-10/return"}));
  EXPECT_EQ(Read(7).stock(), 5);

  // Given back already: read, nothing changed.
  sent.clear();
  GiveBackOrder(send, "o-10", {{7, 2}}, [&](const grpc::Status& s, bool c) {
    outcome = s;
    changed = c;
  });
  EXPECT_TRUE(outcome->ok());
  EXPECT_FALSE(changed);
  EXPECT_EQ(sent, std::vector<std::string>{"GET /v1/reservations/o-10"});
}

TEST_F(MappingTest, HistoryPagesInTheSeedsNames) {
  history::HistoryEvent sale{.event_id = "1800000000123-4",
                             .sku = 7,
                             .ref = "1001:7",  // seed 004's order 1001, book 7
                             .op = "confirm",
                             .qty = 2,
                             .before = 5,
                             .after = 3,
                             .actor = "orders",
                             .reason = "",
                             .time_ms = kT0,
                             .version = 3};
  history::HistoryEvent restock = sale;
  restock.event_id = "1800000000100-0";
  restock.ref = "r-1";
  restock.op = "adjust";
  restock.qty = 10;
  restock.reason = "truck";
  history_.page.total = 12;
  history_.page.items = {sale, restock};

  inventory::GetInventoryHistoryRequest req;
  req.set_product_id(7);
  req.set_page(2);
  req.set_page_size(2);
  req.mutable_start_time()->set_seconds(kT0 / 1000 - 60);
  req.mutable_end_time()->set_seconds(kT0 / 1000 + 60);
  inventory::InventoryHistoryListResponse out;
  ASSERT_TRUE(ToProto(Send(FromProto(req), Role::kViewer), &out).ok());
  ASSERT_EQ(history_.queries.size(), 1u);
  EXPECT_EQ(history_.queries[0].page, 2);
  EXPECT_EQ(history_.queries[0].page_size, 2);
  EXPECT_EQ(history_.queries[0].from_ms, kT0 - 60'000);
  EXPECT_EQ(history_.queries[0].to_ms, kT0 + 60'000);
  EXPECT_EQ(out.total(), 12);
  ASSERT_EQ(out.history_size(), 2);
  EXPECT_EQ(out.history(0).id(), 1'800'000'000'123'000'004);
  EXPECT_EQ(out.history(0).operation_type(), "CONFIRM");
  EXPECT_EQ(out.history(0).operator_(), "orders");
  EXPECT_EQ(out.history(0).created_at().seconds(), kT0 / 1000);
  EXPECT_EQ(out.history(1).operation_type(), "ADD");
  EXPECT_EQ(out.history(1).remark(), "truck");

  inventory::v1::GetInventoryLogsRequest logs_req;
  logs_req.set_book_id(7);
  inventory::v1::GetInventoryLogsResponse logs;
  ASSERT_TRUE(ToProto(Send(FromProto(logs_req), Role::kViewer), &logs).ok());
  EXPECT_EQ(history_.queries[1].page, 1);  // 0: the API's defaults
  EXPECT_EQ(history_.queries[1].page_size, history::kDefaultPageSize);
  ASSERT_EQ(logs.logs_size(), 2);
  EXPECT_EQ(logs.logs(0).change_type(), "deduct");
  EXPECT_EQ(logs.logs(0).order_id(), 1001u);
  EXPECT_EQ(logs.logs(1).change_type(), "restock");
  EXPECT_EQ(logs.logs(1).order_id(), 0u);  // a request_id, not an order number

  // Times are the API's to judge: a sub-millisecond rest rounds up, as in the HTTP query; a
  // Timestamp out of its range is refused, not wrapped around.
  inventory::GetInventoryHistoryRequest exact;
  exact.set_product_id(7);
  exact.mutable_start_time()->set_seconds(kT0 / 1000);
  exact.mutable_start_time()->set_nanos(1'500'000);
  ASSERT_TRUE(ToProto(Send(FromProto(exact), Role::kViewer), &out).ok());
  EXPECT_EQ(history_.queries.back().from_ms, kT0 + 2);
  for (const auto& [seconds, nanos] :
       std::vector<std::pair<std::int64_t, std::int32_t>>{{2'305'843'009'213'693'960, 0},
                                                          {-1, 0},
                                                          {kT0 / 1000, -1},
                                                          {kT0 / 1000, 1'000'000'000}}) {
    inventory::GetInventoryHistoryRequest bad;
    bad.set_product_id(7);
    bad.mutable_start_time()->set_seconds(seconds);
    bad.mutable_start_time()->set_nanos(nanos);
    EXPECT_EQ(ToProto(Send(FromProto(bad), Role::kViewer), &out).error_code(),
              grpc::StatusCode::INVALID_ARGUMENT)
        << seconds << " " << nanos;
  }

  // Bad paging is the API's 400; a buyer may not read history.
  req.set_page_size(5000);
  EXPECT_EQ(ToProto(Send(FromProto(req), Role::kViewer), &out).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ToProto(Send(FromProto(logs_req), Role::kBuyer), &logs).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST(OpNames, BothSeedsVocabularies) {
  EXPECT_EQ(OperationType("adjust", 5), "ADD");
  EXPECT_EQ(OperationType("adjust", -5), "REDUCE");
  EXPECT_EQ(OperationType("reserve", 1), "LOCK");
  EXPECT_EQ(OperationType("release", 1), "UNLOCK");
  EXPECT_EQ(ChangeType("confirm", 1), "deduct");
  EXPECT_EQ(ChangeType("adjust", 5), "restock");
  EXPECT_EQ(ChangeType("release", 1), "release");
}

}  // namespace
}  // namespace stockgate::grpcapi
