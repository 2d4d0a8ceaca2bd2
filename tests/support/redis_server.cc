#include "tests/support/redis_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <system_error>
#include <thread>
#include <utility>

namespace stockgate::testing {
namespace {

using Clock = std::chrono::steady_clock;

bool IsExecutable(const std::string& path) {
  return !path.empty() && access(path.c_str(), X_OK) == 0;
}

// /usr/bin/redis-server first (the Debian package), then PATH.
std::string FindBinary(const std::string& requested) {
  if (!requested.empty()) return IsExecutable(requested) ? requested : std::string();
  if (IsExecutable("/usr/bin/redis-server")) return "/usr/bin/redis-server";
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string candidate = dirs.substr(start, end - start) + "/redis-server";
    if (end > start && IsExecutable(candidate)) return candidate;
    start = end + 1;
  }
  return {};
}

sockaddr_in Loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

// Binds port 0 on loopback and returns the port the kernel chose. Another process could take it
// before redis-server binds it; Start retries on "Address already in use".
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in addr = Loopback(0);
  socklen_t len = sizeof(addr);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

// Sends `request` on a fresh connection and returns the first complete RESP reply (a simple line,
// or a bulk string with its payload), or "" on any failure within ~timeout_ms per read.
std::string Query(int port, const std::string& request, int timeout_ms = 250) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return {};
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout_ms / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout_ms % 1000) * 1000);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  const sockaddr_in addr = Loopback(port);
  std::string reply;
  if (connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0 &&
      send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
          static_cast<ssize_t>(request.size())) {
    char buf[4096];
    while (true) {
      const size_t eol = reply.find("\r\n");
      if (eol != std::string::npos) {
        if (reply[0] != '$') break;
        const long payload = std::strtol(reply.c_str() + 1, nullptr, 10);
        if (payload < 0 || reply.size() >= eol + 2 + static_cast<size_t>(payload) + 2) break;
      }
      const ssize_t n = recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) {
        reply.clear();
        break;
      }
      reply.append(buf, static_cast<size_t>(n));
    }
  }
  close(fd);
  return reply;
}

std::string Tail(const std::string& path, size_t lines) {
  std::ifstream in(path);
  if (!in) return "  (no " + path + ")\n";
  std::deque<std::string> last;
  for (std::string line; std::getline(in, line);) {
    last.push_back(std::move(line));
    if (last.size() > lines) last.pop_front();
  }
  std::string out;
  for (const std::string& line : last) out += "  " + line + "\n";
  return out;
}

std::string ErrnoText() { return std::generic_category().message(errno); }

void Reap(pid_t pid) {
  while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

RedisServer::RedisServer(Options options, std::string binary, std::string dir, int port)
    : options_(std::move(options)), binary_(std::move(binary)), dir_(std::move(dir)), port_(port) {}

RedisServer::~RedisServer() {
  Kill();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::unique_ptr<RedisServer> RedisServer::Start(const Options& options, std::string* error) {
  auto fail = [error](const std::string& why) -> std::unique_ptr<RedisServer> {
    std::cerr << "RedisServer::Start failed: " << why << std::endl;
    if (error != nullptr) *error = why;
    return nullptr;
  };
  const std::string binary = FindBinary(options.binary);
  if (binary.empty()) {
    return fail(options.binary.empty()
                    ? "redis-server not found in /usr/bin or PATH (apt-get install redis-server)"
                    : "redis-server binary not executable: " + options.binary);
  }
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/stockgate-redis-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    return fail("mkdtemp " + pattern + ": " + ErrnoText());
  }
  std::unique_ptr<RedisServer> server(new RedisServer(options, binary, pattern, 0));
  Status status;
  // A port found free can be taken by another process before redis-server binds it.
  for (int attempt = 0; attempt < 3; ++attempt) {
    server->port_ = FreePort();
    if (server->port_ == 0) return fail("no free loopback port");
    status = server->Launch();
    if (status.ok || status.error.find("Address already in use") == std::string::npos) break;
  }
  if (!status.ok) return fail(status.error);
  return server;
}

RedisServer::Status RedisServer::Launch() {
  const std::string log = dir_ + "/redis.log";
  const std::string console = dir_ + "/redis.stdout";  // what it says before the log file opens
  std::vector<std::string> args = {binary_,
                                   "--port",
                                   std::to_string(port_),
                                   "--bind",
                                   "127.0.0.1",
                                   "--dir",
                                   dir_,
                                   "--save",
                                   "",
                                   "--appendonly",
                                   options_.appendonly ? "yes" : "no",
                                   "--daemonize",
                                   "no",
                                   "--protected-mode",
                                   "no",
                                   "--logfile",
                                   log};
  if (options_.appendonly) args.insert(args.end(), {"--appendfsync", "always"});
  args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);

  // Everything the child needs is prepared here: after fork() in a threaded process only
  // async-signal-safe calls are allowed.
  const long open_max = sysconf(_SC_OPEN_MAX);
  const int fd_limit = open_max > 0 && open_max < 65536 ? static_cast<int>(open_max) : 65536;
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) return {false, std::string("fork: ") + ErrnoText()};
  if (pid == 0) {
    // Dies with the test process even when that one is killed, so no server outlives a run.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    // Ignored signals survive exec; the test process ignores SIGPIPE (RedisPool does).
    signal(SIGPIPE, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    const int out = open(console.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    const int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (out >= 0) {
      dup2(out, STDOUT_FILENO);
      dup2(out, STDERR_FILENO);
    }
    if (in >= 0) dup2(in, STDIN_FILENO);
    // Inherited sockets (e.g. the test's client connections) would otherwise stay open in the
    // server and keep those connections alive after the test closed them.
    if (close_range(3, ~0U, 0) != 0) {
      for (int fd = 3; fd < fd_limit; ++fd) close(fd);
    }
    execv(argv[0], argv.data());
    _exit(127);
  }
  pid_ = pid;
  paused_ = false;

  auto failure = [this, &log, &console](const std::string& why) {
    return Status{false, why + "\n-- " + log + " (tail):\n" + Tail(log, 20) + "-- " + console +
                             " (tail):\n" + Tail(console, 20)};
  };
  const Clock::time_point deadline =
      Clock::now() + std::chrono::milliseconds(options_.startup_timeout_ms);
  while (true) {
    int wstatus = 0;
    if (waitpid(pid_, &wstatus, WNOHANG) == pid_) {
      pid_ = 0;
      return failure("redis-server on port " + std::to_string(port_) + " exited (status " +
                     std::to_string(wstatus) + ") before answering PING");
    }
    // PONG only once the AOF is loaded (before that it answers -LOADING); the process id tells
    // our server from another one that took the port.
    if (Query(port_, "PING\r\n") == "+PONG\r\n") {
      const std::string info = Query(port_, "INFO server\r\n");
      if (info.find("process_id:" + std::to_string(pid_) + "\r\n") != std::string::npos) {
        return {true, {}};
      }
    }
    if (Clock::now() > deadline) {
      Kill();
      return failure("redis-server on port " + std::to_string(port_) +
                     " did not answer PING within " + std::to_string(options_.startup_timeout_ms) +
                     " ms");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void RedisServer::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);  // works on a stopped process too
  Reap(pid_);
  pid_ = 0;
  paused_ = false;
}

void RedisServer::Stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  if (paused_) kill(pid_, SIGCONT);  // a stopped process would hold SIGTERM pending forever
  const Clock::time_point deadline = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < deadline) {
    const pid_t done = waitpid(pid_, nullptr, WNOHANG);
    if (done == pid_ || (done < 0 && errno != EINTR)) {
      pid_ = 0;
      paused_ = false;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  Kill();
}

RedisServer::Status RedisServer::Restart() {
  Stop();
  return Launch();
}

void RedisServer::Pause() {
  if (pid_ <= 0 || paused_) return;
  kill(pid_, SIGSTOP);
  int wstatus = 0;
  while (true) {
    const pid_t done = waitpid(pid_, &wstatus, WUNTRACED);
    if (done < 0 && errno == EINTR) continue;
    if (done == pid_ && !WIFSTOPPED(wstatus)) pid_ = 0;  // it died instead
    break;
  }
  paused_ = pid_ > 0;
}

void RedisServer::Resume() {
  if (pid_ <= 0 || !paused_) return;
  kill(pid_, SIGCONT);
  paused_ = false;
}

}  // namespace stockgate::testing
