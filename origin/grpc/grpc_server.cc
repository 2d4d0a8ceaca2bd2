#include "origin/grpc/grpc_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "inventory/inventory.grpc.pb.h"
#include "inventory/v1/inventory.grpc.pb.h"
#include "origin/grpc/mapping.h"
#include "origin/log/log.h"

namespace stockgate::grpcapi {
namespace {

namespace asio = boost::asio;
using grpc::CallbackServerContext;
using grpc::ServerUnaryReactor;

// The value of one metadata key, "" when absent.
std::string Metadata(const CallbackServerContext* ctx, std::string_view key) {
  const auto& md = ctx->client_metadata();
  const auto it = md.find(grpc::string_ref(key.data(), key.size()));
  return it == md.end() ? std::string() : std::string(it->second.data(), it->second.size());
}

// "ipv4:127.0.0.1:5000" -> "127.0.0.1", "ipv6:[::1]:5000" -> "::1"; anything else as it is.
std::string PeerAddress(const std::string& peer) {
  std::string_view p = peer;
  for (std::string_view scheme : {"ipv4:", "ipv6:"}) {
    if (p.substr(0, scheme.size()) == scheme) {
      p.remove_prefix(scheme.size());
      const std::size_t colon = p.rfind(':');
      if (colon != std::string_view::npos) p = p.substr(0, colon);
      if (p.size() >= 2 && p.front() == '[' && p.back() == ']') p = p.substr(1, p.size() - 2);
      return std::string(p);
    }
  }
  return peer;
}

// The caller's idempotency key for adjustments (metadata `idempotency-key`), else a fresh one: a
// retry without it is a new adjustment, as in the seeds' own services.
std::string RequestId(const CallbackServerContext* ctx) {
  std::string key = Metadata(ctx, "idempotency-key");
  if (!key.empty()) return key;
  thread_local std::mt19937_64 random = [] {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device(), device(), device()};
    return std::mt19937_64(seed);
  }();
  char buf[40];
  std::snprintf(buf, sizeof buf, "grpc-%016llx%016llx", static_cast<unsigned long long>(random()),
                static_cast<unsigned long long>(random()));
  return buf;
}

}  // namespace

struct GrpcServer::Impl {
  server::Api& api;
  GrpcOptions options;
  std::function<std::int64_t()> now_ms;
  std::function<bool()> ready;
  prometheus::Family<prometheus::Counter>* requests = nullptr;
  // Where answers are translated and calls finished or sent on (never on the store's thread), and
  // where the Api's blocking work (MariaDB reads) runs: apart, so a slow history cannot hold up
  // the answers of calls that Redis has already served.
  asio::thread_pool answers;
  asio::thread_pool blocking;
  std::unique_ptr<grpc::Server> server;
  std::thread health;
  std::mutex mu;
  std::condition_variable stop_cv;
  bool stopping = false;

  struct Inventory000;
  struct Inventory004;
  std::unique_ptr<Inventory000> v0;
  std::unique_ptr<Inventory004> v1;

  Impl(server::Api& a, GrpcOptions o, std::function<std::int64_t()> now, std::function<bool()> r,
       prometheus::Registry* registry)
      : api(a),
        options(std::move(o)),
        now_ms(std::move(now)),
        ready(std::move(r)),
        answers(2),
        blocking(static_cast<std::size_t>(std::max(options.blocking_threads, 1))) {
    if (registry != nullptr) {
      requests = &prometheus::BuildCounter()
                      .Name("stockgate_grpc_requests_total")
                      .Help("gRPC calls answered, by method and status code")
                      .Register(*registry);
    }
  }

  // One call on its way through the Api: one or more HTTP-shaped requests, then one Finish.
  class Call : public std::enable_shared_from_this<Call> {
   public:
    Call(Impl& impl, CallbackServerContext* ctx, std::string_view method)
        : impl_(impl), ctx_(ctx), reactor_(ctx->DefaultReactor()), method_(method) {
      caller_.authorization = Metadata(ctx, "authorization");
      caller_.client_id = Metadata(ctx, "x-client-id");
      caller_.remote_addr = PeerAddress(ctx->peer());
    }

    ServerUnaryReactor* reactor() const { return reactor_; }

    // Sends `request` with the caller's credentials; `then` gets the answer on an `answers`
    // thread. A call past its deadline or cancelled is finished instead.
    void Send(server::HttpRequest request, std::function<void(const server::HttpResponse&)> then) {
      if (ctx_->IsCancelled()) return Finish({grpc::StatusCode::CANCELLED, "cancelled"});
      if (ctx_->deadline() <= std::chrono::system_clock::now()) {
        return Finish({grpc::StatusCode::DEADLINE_EXCEEDED,
                       "the deadline passed before the call was sent on"});
      }
      request.authorization = caller_.authorization;
      request.client_id = caller_.client_id;
      request.remote_addr = caller_.remote_addr;
      auto self = shared_from_this();
      impl_.api.HandleAsync(
          request, impl_.now_ms(),
          [self, then = std::move(then)](server::HttpResponse answer) {
            asio::post(self->impl_.answers,
                       [self, then, answer = std::move(answer)] { then(answer); });
          },
          [self](std::function<void()> work) {
            asio::post(self->impl_.blocking, std::move(work));
          });
    }

    // The API's JSON error body (StatusOf puts it in the status's details) goes to the
    // trailer stockgate-error-bin: grpc-status-details-bin is for google.rpc.Status, and
    // clients that decode it (grpc-go) would turn anything else into INTERNAL.
    void Finish(const grpc::Status& status) {
      if (impl_.requests != nullptr) {
        impl_.requests->Add({{"method", method_}, {"code", CodeName(status.error_code())}})
            .Increment();
      }
      if (status.error_details().empty()) return reactor_->Finish(status);
      ctx_->AddTrailingMetadata("stockgate-error-bin", status.error_details());
      reactor_->Finish(grpc::Status(status.error_code(), status.error_message()));
    }

   private:
    static std::string CodeName(grpc::StatusCode code) {
      switch (code) {
        case grpc::StatusCode::OK:
          return "OK";
        case grpc::StatusCode::CANCELLED:
          return "CANCELLED";
        case grpc::StatusCode::INVALID_ARGUMENT:
          return "INVALID_ARGUMENT";
        case grpc::StatusCode::DEADLINE_EXCEEDED:
          return "DEADLINE_EXCEEDED";
        case grpc::StatusCode::NOT_FOUND:
          return "NOT_FOUND";
        case grpc::StatusCode::ALREADY_EXISTS:
          return "ALREADY_EXISTS";
        case grpc::StatusCode::PERMISSION_DENIED:
          return "PERMISSION_DENIED";
        case grpc::StatusCode::RESOURCE_EXHAUSTED:
          return "RESOURCE_EXHAUSTED";
        case grpc::StatusCode::FAILED_PRECONDITION:
          return "FAILED_PRECONDITION";
        case grpc::StatusCode::UNAVAILABLE:
          return "UNAVAILABLE";
        case grpc::StatusCode::UNAUTHENTICATED:
          return "UNAUTHENTICATED";
        default:
          return "INTERNAL";
      }
    }

    Impl& impl_;
    CallbackServerContext* ctx_;
    ServerUnaryReactor* reactor_;
    std::string method_;
    server::HttpRequest caller_;
  };

  std::shared_ptr<Call> Begin(CallbackServerContext* ctx, std::string_view method) {
    return std::make_shared<Call>(*this, ctx, method);
  }

  // The calls that are one API request: send it, translate the answer into `response`.
  template <class Response>
  ServerUnaryReactor* Unary(CallbackServerContext* ctx, std::string_view method,
                            server::HttpRequest request, Response* response) {
    auto call = Begin(ctx, method);
    call->Send(std::move(request), [call, response](const server::HttpResponse& answer) {
      call->Finish(ToProto(answer, response));
    });
    return call->reactor();
  }

  // A request the translation refused (nullopt, with its status): finished at once.
  template <class Response>
  ServerUnaryReactor* UnaryOrRefuse(CallbackServerContext* ctx, std::string_view method,
                                    std::optional<server::HttpRequest> request,
                                    const grpc::Status& refusal, Response* response) {
    if (!request) {
      auto call = Begin(ctx, method);
      call->Finish(refusal);
      return call->reactor();
    }
    return Unary(ctx, method, std::move(*request), response);
  }

  // The call's own send, for the steps mapping.h chains (GiveBackOrder).
  static SendThen SendOf(const std::shared_ptr<Call>& call) {
    return
        [call](server::HttpRequest request, std::function<void(const server::HttpResponse&)> then) {
          call->Send(std::move(request), std::move(then));
        };
  }

  // The last step of DeductStock and ReleaseStock, once the change is made: the SKU's available
  // units into the answer (`set`), then OK. The read is a follow-up (not charged again); if it
  // fails, the call still succeeds (the change stands) and `note` says the count is unknown.
  static void FinishWithAvailable(const std::shared_ptr<Call>& call, std::uint64_t book_id,
                                  std::function<void(std::int32_t)> set,
                                  std::function<void(const std::string&)> note) {
    inventory::v1::GetStockRequest stock;
    stock.set_book_id(book_id);
    server::HttpRequest read = FromProto(stock);
    read.follow_up = true;
    call->Send(std::move(read), [call, set = std::move(set),
                                 note = std::move(note)](const server::HttpResponse& answer) {
      std::int32_t available = 0;
      const grpc::Status status = AvailableOf(answer, &available);
      if (status.ok()) {
        set(available);
      } else {
        note("; the stock left could not be read: " + status.error_message());
      }
      call->Finish(grpc::Status::OK);
    });
  }

  bool Start(int* port);
  void HealthLoop();
};

// Seed 000: inventory.InventoryService.
struct GrpcServer::Impl::Inventory000 final : inventory::InventoryService::CallbackService {
  Impl& impl;
  explicit Inventory000(Impl& i) : impl(i) {}

  ServerUnaryReactor* GetInventory(CallbackServerContext* ctx,
                                   const inventory::GetInventoryRequest* req,
                                   inventory::InventoryResponse* resp) override {
    return impl.Unary(ctx, "GetInventory", FromProto(*req), resp);
  }
  ServerUnaryReactor* BatchGetInventory(CallbackServerContext* ctx,
                                        const inventory::BatchGetInventoryRequest* req,
                                        inventory::BatchInventoryResponse* resp) override {
    return impl.Unary(ctx, "BatchGetInventory", FromProto(*req), resp);
  }
  ServerUnaryReactor* SetInventory(CallbackServerContext* ctx,
                                   const inventory::SetInventoryRequest* req,
                                   inventory::InventoryResponse* resp) override {
    return impl.Unary(ctx, "SetInventory", FromProto(*req), resp);
  }
  ServerUnaryReactor* Adjust(CallbackServerContext* ctx, std::string_view method,
                             const inventory::InventoryOperationRequest* req, int sign,
                             inventory::InventoryResponse* resp) {
    grpc::Status refusal;
    std::optional<server::HttpRequest> request = FromProto(*req, sign, RequestId(ctx), &refusal);
    return impl.UnaryOrRefuse(ctx, method, std::move(request), refusal, resp);
  }
  ServerUnaryReactor* AddInventory(CallbackServerContext* ctx,
                                   const inventory::InventoryOperationRequest* req,
                                   inventory::InventoryResponse* resp) override {
    return Adjust(ctx, "AddInventory", req, +1, resp);
  }
  ServerUnaryReactor* ReduceInventory(CallbackServerContext* ctx,
                                      const inventory::InventoryOperationRequest* req,
                                      inventory::InventoryResponse* resp) override {
    return Adjust(ctx, "ReduceInventory", req, -1, resp);
  }
  ServerUnaryReactor* LockInventory(CallbackServerContext* ctx,
                                    const inventory::LockInventoryRequest* req,
                                    inventory::LockInventoryResponse* resp) override {
    return impl.Unary(ctx, "LockInventory", FromProto(*req), resp);
  }
  ServerUnaryReactor* UnlockInventory(CallbackServerContext* ctx,
                                      const inventory::UnlockInventoryRequest* req,
                                      google::protobuf::Empty* resp) override {
    return impl.Unary(ctx, "UnlockInventory", FromProto(*req), resp);
  }
  ServerUnaryReactor* ConfirmInventoryReduce(CallbackServerContext* ctx,
                                             const inventory::ConfirmReduceRequest* req,
                                             google::protobuf::Empty* resp) override {
    return impl.Unary(ctx, "ConfirmInventoryReduce", FromProto(*req), resp);
  }
  ServerUnaryReactor* GetInventoryHistory(CallbackServerContext* ctx,
                                          const inventory::GetInventoryHistoryRequest* req,
                                          inventory::InventoryHistoryListResponse* resp) override {
    return impl.Unary(ctx, "GetInventoryHistory", FromProto(*req), resp);
  }
  ServerUnaryReactor* SetInv(CallbackServerContext* ctx, const inventory::GoodsInvInfo* req,
                             google::protobuf::Empty* resp) override {
    return impl.Unary(ctx, "SetInv", SetInvRequest(*req), resp);
  }
  ServerUnaryReactor* InvDetail(CallbackServerContext* ctx, const inventory::GoodsInvInfo* req,
                                inventory::GoodsInvInfo* resp) override {
    return impl.Unary(ctx, "InvDetail", InvDetailRequest(*req), resp);
  }
  ServerUnaryReactor* Sell(CallbackServerContext* ctx, const inventory::SellInfo* req,
                           google::protobuf::Empty* resp) override {
    return impl.Unary(ctx, "Sell", FromProto(*req), resp);
  }
  ServerUnaryReactor* Reback(CallbackServerContext* ctx, const inventory::SellInfo* req,
                             google::protobuf::Empty*) override {
    auto call = impl.Begin(ctx, "Reback");
    std::vector<GiveBackItem> items;
    for (const auto& g : req->goods_info()) items.push_back({g.goods_id(), g.num()});
    GiveBackOrder(SendOf(call), req->order_sn(), std::move(items),
                  [call](const grpc::Status& status, bool) { call->Finish(status); });
    return call->reactor();
  }
};

// Seed 004: inventory.v1.InventoryService.
struct GrpcServer::Impl::Inventory004 final : inventory::v1::InventoryService::CallbackService {
  Impl& impl;
  explicit Inventory004(Impl& i) : impl(i) {}

  ServerUnaryReactor* RestockInventory(CallbackServerContext* ctx,
                                       const inventory::v1::RestockInventoryRequest* req,
                                       inventory::v1::RestockInventoryResponse* resp) override {
    grpc::Status refusal;
    std::optional<server::HttpRequest> request = FromProto(*req, RequestId(ctx), &refusal);
    return impl.UnaryOrRefuse(ctx, "RestockInventory", std::move(request), refusal, resp);
  }
  ServerUnaryReactor* GetStock(CallbackServerContext* ctx,
                               const inventory::v1::GetStockRequest* req,
                               inventory::v1::GetStockResponse* resp) override {
    return impl.Unary(ctx, "GetStock", FromProto(*req), resp);
  }
  ServerUnaryReactor* BatchGetStock(CallbackServerContext* ctx,
                                    const inventory::v1::BatchGetStockRequest* req,
                                    inventory::v1::BatchGetStockResponse* resp) override {
    return impl.Unary(ctx, "BatchGetStock", FromProto(*req), resp);
  }
  // A direct sale, then the SKU's available units for remaining_stock.
  ServerUnaryReactor* DeductStock(CallbackServerContext* ctx,
                                  const inventory::v1::DeductStockRequest* req,
                                  inventory::v1::DeductStockResponse* resp) override {
    auto call = impl.Begin(ctx, "DeductStock");
    grpc::Status refusal;
    std::optional<server::HttpRequest> request = FromProto(*req, &refusal);
    if (!request) {
      call->Finish(refusal);
      return call->reactor();
    }
    const std::uint64_t book_id = req->book_id();
    call->Send(std::move(*request), [call, resp, book_id](const server::HttpResponse& sale) {
      if (!Succeeded(sale)) return call->Finish(StatusOf(sale));
      resp->set_message(sale.status == 201 ? "deducted"
                                           : "order already processed (a retry: nothing changed)");
      FinishWithAvailable(
          call, book_id, [resp](std::int32_t n) { resp->set_remaining_stock(n); },
          [resp](const std::string& why) { resp->mutable_message()->append(why); });
    });
    return call->reactor();
  }
  // The order given back (released or returned), then the SKU's available units.
  ServerUnaryReactor* ReleaseStock(CallbackServerContext* ctx,
                                   const inventory::v1::ReleaseStockRequest* req,
                                   inventory::v1::ReleaseStockResponse* resp) override {
    auto call = impl.Begin(ctx, "ReleaseStock");
    grpc::Status refusal;
    const std::optional<std::string> order_id =
        SeedOrderId(req->order_id(), req->book_id(), &refusal);
    if (!order_id) {
      call->Finish(refusal);
      return call->reactor();
    }
    const std::uint64_t book_id = req->book_id();
    std::vector<GiveBackItem> items{{static_cast<std::int64_t>(book_id), req->quantity()}};
    GiveBackOrder(SendOf(call), *order_id, std::move(items),
                  [call, resp, book_id](const grpc::Status& status, bool changed) {
                    if (!status.ok()) return call->Finish(status);
                    resp->set_message(
                        changed ? "released" : "order already released (a retry: nothing changed)");
                    FinishWithAvailable(
                        call, book_id, [resp](std::int32_t n) { resp->set_current_stock(n); },
                        [resp](const std::string& why) { resp->mutable_message()->append(why); });
                  });
    return call->reactor();
  }
  ServerUnaryReactor* GetInventoryLogs(CallbackServerContext* ctx,
                                       const inventory::v1::GetInventoryLogsRequest* req,
                                       inventory::v1::GetInventoryLogsResponse* resp) override {
    return impl.Unary(ctx, "GetInventoryLogs", FromProto(*req), resp);
  }
};

bool GrpcServer::Impl::Start(int* port) {
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
  if (!options.tls_cert_pem.empty()) {
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({options.tls_key_pem, options.tls_cert_pem});
    credentials = grpc::SslServerCredentials(ssl);
  }
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  v0 = std::make_unique<Inventory000>(*this);
  v1 = std::make_unique<Inventory004>(*this);
  grpc::ServerBuilder builder;
  const std::string address = options.host.find(':') != std::string::npos
                                  ? "[" + options.host + "]:" + std::to_string(options.port)
                                  : options.host + ":" + std::to_string(options.port);
  builder.AddListeningPort(address, credentials, port);
  // The HTTP API's body limit: a larger message is refused (RESOURCE_EXHAUSTED) unread.
  builder.SetMaxReceiveMessageSize(static_cast<int>(core::kMaxBodyBytes));
  builder.RegisterService(v0.get());
  builder.RegisterService(v1.get());
  server = builder.BuildAndStart();
  if (!server || *port == 0) {
    log::Error("cannot serve gRPC", {{"listen", address}, {"error", "cannot listen"}});
    server.reset();
    return false;
  }
  health = std::thread([this] { HealthLoop(); });
  return true;
}

void GrpcServer::Impl::HealthLoop() {
  grpc::HealthCheckServiceInterface* service = server->GetHealthCheckService();
  std::unique_lock lock(mu);
  while (!stopping) {
    lock.unlock();
    const bool serving = ready();
    lock.lock();
    if (stopping) break;
    // The server as a whole (""), as seed 004's Consul checks ask, and each service by name.
    for (const char* name : {"", inventory::InventoryService::service_full_name(),
                             inventory::v1::InventoryService::service_full_name()}) {
      service->SetServingStatus(name, serving);
    }
    stop_cv.wait_for(lock, std::chrono::milliseconds(options.health_interval_ms));
  }
}

GrpcServer::GrpcServer(server::Api& api, GrpcOptions options, std::function<std::int64_t()> now_ms,
                       std::function<bool()> ready, prometheus::Registry* registry)
    : impl_(std::make_unique<Impl>(api, std::move(options), std::move(now_ms), std::move(ready),
                                   registry)) {}

GrpcServer::~GrpcServer() { Stop(); }

int GrpcServer::Start() {
  int port = 0;
  return impl_->Start(&port) ? port : -1;
}

void GrpcServer::Stop() {
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->stopping) return;
    impl_->stopping = true;
  }
  impl_->stop_cv.notify_all();
  if (impl_->health.joinable()) impl_->health.join();
  if (impl_->server) {
    impl_->server->GetHealthCheckService()->Shutdown();
    // Calls in flight get two seconds to finish; the rest are cancelled.
    impl_->server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  }
  impl_->answers.join();
  impl_->blocking.join();
}

}  // namespace stockgate::grpcapi
