#include "origin/store/redis_pipeline.h"

#include <hiredis/hiredis.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>

namespace stockgate::store {
namespace {

using std::chrono::milliseconds;

core::Error Failure(std::string error) {
  return core::Fail(core::Code::kUnavailable, std::move(error));
}

}  // namespace

// One call: its encoded command, its deadline, and what to do with its outcome. Shared by the
// caller and the I/O thread.
struct RedisPipeline::Call {
  std::string request;
  Clock::time_point deadline;
  bool probe = false;       // the call that tests Redis while the breaker is half open
  std::size_t replies = 1;  // more than one: a sequence, answered with the array of its replies
  std::vector<Reply> got;   // a sequence's replies so far
  Callback done;

  void Complete(CommandResult r) { done(std::move(r)); }
};

class RedisPipeline::Connection {
 public:
  explicit Connection(RedisPipeline& owner) : owner_(owner) {
    wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    thread_ = std::thread([this] { Run(); });
  }

  ~Connection() {
    Stop();
    Join();
    if (wake_fd_ >= 0) close(wake_fd_);
  }

  // Asks the I/O thread to fail what it holds and end; Join waits for it.
  void Stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    Wake();
  }
  void Join() {
    if (thread_.joinable()) thread_.join();
  }

  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Queues the call for the I/O thread; else says why not (too many calls waiting).
  core::Result<void> Submit(const std::shared_ptr<Call>& call) {
    bool wake = false;
    {
      std::lock_guard lock(mu_);
      if (stopping_) return Failure("redis client is closing");
      if (wake_fd_ < 0) return Failure("redis client has no event descriptor");
      if (pending_ >= owner_.config_.max_in_flight) {
        Count(owner_.counters_.overloaded);
        return Failure("redis overloaded: " + std::to_string(pending_) +
                       " calls waiting on one connection");
      }
      ++pending_;
      // Only a push onto an empty queue wakes the I/O thread: a non-empty queue has a wake-up
      // pending that the I/O thread consumes before it takes the queue.
      wake = queue_.empty();
      queue_.push_back(call);
    }
    if (wake) Wake();
    return {};
  }

 private:
  void Wake() const {
    const std::uint64_t one = 1;
    // A full counter (never, in practice) or EAGAIN still leaves the descriptor readable.
    [[maybe_unused]] const ssize_t n = write(wake_fd_, &one, sizeof one);
  }

  void Run() {
    std::vector<std::shared_ptr<Call>> batch;
    while (true) {
      {
        std::lock_guard lock(mu_);
        if (stopping_) break;
        batch.swap(queue_);
      }
      if (!batch.empty()) Send(&batch);

      pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {-1, 0, 0}};
      nfds_t count = 1;
      if (ctx_ != nullptr) {
        fds[1].fd = ctx_->fd;
        fds[1].events = static_cast<short>(POLLIN | (out_.size() > out_sent_ ? POLLOUT : 0));
        count = 2;
      }
      int timeout_ms = -1;
      if (!inflight_.empty()) {
        const auto left = inflight_.front()->deadline - Clock::now();
        timeout_ms =
            static_cast<int>(std::max<long long>(0, std::chrono::ceil<milliseconds>(left).count()));
      }
      const int ready = poll(fds, count, timeout_ms);
      if (ready < 0 && errno != EINTR) {
        Disconnect(std::string("redis transport error: poll: ") + std::strerror(errno), true);
        continue;
      }
      if ((fds[0].revents & POLLIN) != 0) {
        std::uint64_t drained = 0;
        [[maybe_unused]] const ssize_t n = read(wake_fd_, &drained, sizeof drained);
      }
      if (ctx_ != nullptr && (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0) ReadReplies();
      if (ctx_ != nullptr && (fds[1].revents & POLLOUT) != 0) Flush();
      if (!inflight_.empty() && Clock::now() >= inflight_.front()->deadline) {
        Disconnect(
            "redis timed out after " + std::to_string(owner_.config_.command_timeout_ms) + " ms",
            true);
      }
    }
    Disconnect("redis client is closing", false);
    std::vector<std::shared_ptr<Call>> left;
    {
      std::lock_guard lock(mu_);
      left.swap(queue_);
    }
    for (const auto& call : left) call->Complete(Failure("redis client is closing"));
  }

  // Connects when needed, then appends the batch to the output and writes it.
  void Send(std::vector<std::shared_ptr<Call>>* batch) {
    const bool has_probe =
        std::any_of(batch->begin(), batch->end(), [](const auto& call) { return call->probe; });
    core::Result<void> refused = owner_.Refusal(has_probe);
    if (!refused) {
      Count(owner_.counters_.fast_failures, static_cast<long long>(batch->size()));
    } else if (ctx_ == nullptr) {
      refused = Connect();
    }
    if (!refused) {
      for (const auto& call : *batch) call->Complete(refused.failure());
      Finished(static_cast<int>(batch->size()));
      batch->clear();
      return;
    }
    for (auto& call : *batch) {
      out_ += call->request;
      inflight_.push_back(std::move(call));
    }
    Count(owner_.counters_.writes);
    Count(owner_.counters_.commands, static_cast<long long>(batch->size()));
    batch->clear();
    Flush();
  }

  // Connects; a failure trips the breaker.
  core::Result<void> Connect() {
    core::Result<redisContext*> connected = ConnectRedis(owner_.config_);
    if (!connected) {
      Count(owner_.counters_.connect_failures);
      owner_.Trip(connected.error());
      return connected.failure();
    }
    ctx_ = *connected;
    Count(owner_.counters_.connects);
    return {};
  }

  void Flush() {
    while (out_sent_ < out_.size()) {
      const ssize_t n = send(ctx_->fd, out_.data() + out_sent_, out_.size() - out_sent_,
                             MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        out_sent_ += static_cast<std::size_t>(n);
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return;  // the rest goes when poll says the socket is writable
      } else {
        Disconnect(std::string("redis transport error: write: ") + std::strerror(errno), true);
        return;
      }
    }
    out_.clear();
    out_sent_ = 0;
  }

  void ReadReplies() {
    char buf[16 * 1024];
    int completed = 0;
    while (ctx_ != nullptr) {
      const ssize_t n = recv(ctx_->fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (n <= 0) {
        const bool idle = inflight_.empty() && out_.empty();
        // Redis closed a connection with nothing on it (a restart between calls): replace it
        // quietly. Anything else leaves calls without an answer.
        Disconnect(n == 0 ? "redis closed the connection"
                          : std::string("redis transport error: read: ") + std::strerror(errno),
                   !idle);
        break;
      }
      if (redisReaderFeed(ctx_->reader, buf, static_cast<std::size_t>(n)) != REDIS_OK) {
        Disconnect("redis protocol error", true);
        break;
      }
      while (ctx_ != nullptr) {
        void* raw = nullptr;
        if (redisReaderGetReply(ctx_->reader, &raw) != REDIS_OK) {
          Disconnect(std::string("redis protocol error: ") + ctx_->reader->errstr, true);
          break;
        }
        if (raw == nullptr) break;
        auto* reply = static_cast<redisReply*>(raw);
        if (inflight_.empty()) {
          freeReplyObject(reply);
          Disconnect("redis sent a reply no call asked for", true);
          break;
        }
        Call& front = *inflight_.front();
        if (front.replies > 1) {
          front.got.push_back(ConvertReply(*reply));
          freeReplyObject(reply);
          if (front.got.size() < front.replies) continue;  // the rest of the sequence follows
        }
        std::shared_ptr<Call> call = std::move(inflight_.front());
        inflight_.pop_front();
        // Redis answered the probe: the breaker closes before its caller learns of it, so that
        // caller's next call is not refused by a breaker still half open.
        if (call->probe) owner_.ProbeAnswered();
        if (call->replies > 1) {
          Reply all;
          all.type = Reply::Type::kArray;
          all.elements = std::move(call->got);
          call->Complete(std::move(all));
        } else {
          CommandResult result(ConvertReply(*reply));
          freeReplyObject(reply);
          call->Complete(std::move(result));
        }
        ++completed;
      }
      if (static_cast<std::size_t>(n) < sizeof buf) break;  // the socket is drained
    }
    Finished(completed);
  }

  // Fails every call on the connection and closes it; `trip` opens the breaker too.
  void Disconnect(const std::string& error, bool trip) {
    const int failed = static_cast<int>(inflight_.size());
    // Counted before the callers learn of it, so that what they then read includes it.
    Count(owner_.counters_.command_failures, failed);
    for (const auto& call : inflight_) call->Complete(Failure(error));
    inflight_.clear();
    if (ctx_ != nullptr) redisFree(ctx_);
    ctx_ = nullptr;
    out_.clear();
    out_sent_ = 0;
    if (trip) owner_.Trip(error);
    Finished(failed);
  }

  // `count` calls left the connection.
  void Finished(int count) {
    if (count == 0) return;
    std::lock_guard lock(mu_);
    pending_ -= count;
  }

  RedisPipeline& owner_;
  int wake_fd_ = -1;  // eventfd: callers wake the I/O thread with it
  std::thread thread_;

  // Shared with callers, under mu_.
  std::mutex mu_;
  std::vector<std::shared_ptr<Call>> queue_;  // submitted, not yet taken by the I/O thread
  int pending_ = 0;                           // queued + in flight
  bool stopping_ = false;

  // The I/O thread's own.
  redisContext* ctx_ = nullptr;
  std::string out_;                             // encoded calls not yet fully written
  std::size_t out_sent_ = 0;                    // bytes of out_ already written
  std::deque<std::shared_ptr<Call>> inflight_;  // sent (or being sent), in order
};

RedisPipeline::RedisPipeline(RedisConfig config) : config_(Normalized(std::move(config))) {
  IgnoreSigpipe();
  connections_.reserve(static_cast<std::size_t>(config_.pool_size));
  for (int i = 0; i < config_.pool_size; ++i) {
    connections_.push_back(std::make_unique<Connection>(*this));
  }
}

RedisPipeline::~RedisPipeline() { Close(); }

void RedisPipeline::Close() {
  if (closing_.exchange(true)) return;
  // Every connection first, then the joins: a callback that a closing connection runs may submit
  // again (a batcher sends its next batch), and is refused by closing_ rather than queued on a
  // connection that is going away.
  for (auto& c : connections_) c->Stop();
  for (auto& c : connections_) c->Join();
}

void RedisPipeline::CommandAsync(std::vector<std::string> argv, Callback done) {
  if (argv.empty()) return done(Failure("redis: empty command"));
  Submit(EncodeCommand(argv), 1, std::move(done));
}

void RedisPipeline::SequenceAsync(std::vector<std::vector<std::string>> commands, Callback done) {
  std::string request;
  for (const std::vector<std::string>& argv : commands) {
    if (argv.empty()) return done(Failure("redis: empty command"));
    request += EncodeCommand(argv);
  }
  if (commands.empty()) return done(Failure("redis: empty command"));
  if (commands.size() == 1) {
    // One command is answered by its reply; keep the sequence's shape, an array of replies.
    return Submit(std::move(request), 1, [done = std::move(done)](CommandResult r) {
      if (!r) return done(std::move(r));
      Reply all;
      all.type = Reply::Type::kArray;
      all.elements.push_back(std::move(r).value());
      done(std::move(all));
    });
  }
  Submit(std::move(request), commands.size(), std::move(done));
}

void RedisPipeline::Submit(std::string request, std::size_t replies, Callback done) {
  if (closing_.load()) return done(Failure("redis client is closing"));
  auto call = std::make_shared<Call>();
  call->request = std::move(request);
  call->replies = replies;
  call->deadline = Clock::now() + milliseconds(config_.command_timeout_ms);
  call->done = std::move(done);
  if (core::Result<void> admitted = Admit(*call); !admitted) {
    return call->done(admitted.failure());
  }
  const std::size_t n = connections_.size();
  Connection& connection = *connections_[next_.fetch_add(1, std::memory_order_relaxed) % n];
  if (core::Result<void> submitted = connection.Submit(call); !submitted) {
    if (call->probe) {
      std::lock_guard lock(breaker_mu_);
      breaker_ = Breaker::kOpen;  // no probe went out: the next caller may probe
    }
    call->done(submitted.failure());
  }
}

CommandResult RedisPipeline::Command(const std::vector<std::string>& argv) {
  return Wait([&](Callback done) { CommandAsync(argv, std::move(done)); });
}

CommandResult RedisPipeline::Sequence(const std::vector<std::vector<std::string>>& commands) {
  return Wait([&](Callback done) { SequenceAsync(commands, std::move(done)); });
}

CommandResult RedisPipeline::Wait(const std::function<void(Callback)>& start) {
  // The I/O thread completes every call by its deadline (a connect can add connect_timeout_ms);
  // the margin only guards against a bug there turning into a hung request.
  const auto give_up =
      Clock::now() + milliseconds(config_.command_timeout_ms + config_.connect_timeout_ms + 1000);
  std::optional<CommandResult> r = Await(start, give_up);
  if (!r) {
    return Failure("redis call abandoned: no outcome after " +
                   std::to_string(config_.command_timeout_ms) + " ms");
  }
  return std::move(*r);
}

core::Result<void> RedisPipeline::Admit(Call& call) {
  std::lock_guard lock(breaker_mu_);
  if (breaker_ == Breaker::kClosed) return {};
  if (breaker_ == Breaker::kOpen && BreakerNow() >= retry_at_) {
    // Half open: this call alone tries Redis; the others keep failing fast meanwhile.
    breaker_ = Breaker::kProbing;
    call.probe = true;
    return {};
  }
  Count(counters_.fast_failures);
  return Failure("redis unavailable (backing off): " + last_error_);
}

void RedisPipeline::Trip(const std::string& error) {
  std::lock_guard lock(breaker_mu_);
  breaker_ = Breaker::kOpen;
  retry_at_ = BreakerNow() + milliseconds(config_.retry_backoff_ms);
  last_error_ = error;
}

void RedisPipeline::ProbeAnswered() {
  std::lock_guard lock(breaker_mu_);
  if (breaker_ == Breaker::kProbing) breaker_ = Breaker::kClosed;
}

core::Result<void> RedisPipeline::Refusal(bool has_probe) {
  std::lock_guard lock(breaker_mu_);
  if (breaker_ == Breaker::kClosed || has_probe) return {};
  return Failure("redis unavailable (backing off): " + last_error_);
}

}  // namespace stockgate::store
