#include "tests/support/redis_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <system_error>
#include <thread>
#include <utility>

namespace stockgate::testing {
namespace {

using Clock = std::chrono::steady_clock;

sockaddr_in Loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
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
  const std::string binary = FindBinary(options.binary, "redis-server");
  if (binary.empty()) {
    return fail(options.binary.empty()
                    ? "redis-server not found in /usr/bin or PATH (apt-get install redis-server)"
                    : "redis-server binary not executable: " + options.binary);
  }
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/stockgate-redis-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    return fail(ErrnoText(("mkdtemp " + pattern).c_str()));
  }
  std::unique_ptr<RedisServer> server(new RedisServer(options, binary, pattern, 0));
  std::vector<std::string> users;
  if (!options.acl_users_prefix.empty()) {
    // The shipped users, their keys made this prefix's, in a file Redis may rewrite (ACL SAVE).
    std::ifstream in(STOCKGATE_REDIS_USERS_ACL);
    std::ostringstream text;
    text << in.rdbuf();
    if (!in) return fail(std::string("cannot read ") + STOCKGATE_REDIS_USERS_ACL);
    std::string acl = text.str();
    const std::string pattern_sg = "~sg:*";
    for (std::size_t at = acl.find(pattern_sg); at != std::string::npos;
         at = acl.find(pattern_sg, at + 1)) {
      acl.replace(at, pattern_sg.size(), "~" + options.acl_users_prefix + ":*");
    }
    std::istringstream lines(acl);
    for (std::string line; std::getline(lines, line);) {
      std::istringstream words(line);
      std::string keyword, name;
      if (words >> keyword >> name && keyword == "user") users.push_back(name);
    }
    const std::string path = pattern + "/users.acl";
    std::ofstream(path) << acl;
    server->options_.extra_args.insert(server->options_.extra_args.end(), {"--aclfile", path});
  }
  Status status;
  // A port found free can be taken by another process before redis-server binds it.
  for (int attempt = 0; attempt < 3; ++attempt) {
    server->port_ = FreePort();
    if (server->port_ == 0) return fail("no free loopback port");
    status = server->Launch();
    if (status.ok() || status.error().find("Address already in use") == std::string::npos) break;
  }
  if (!status.ok()) return fail(status.error());
  for (const std::string& user : users) {
    const std::string set = server->Ask("ACL SETUSER " + user + " >" + RedisUserPassword(user));
    if (set != "+OK\r\n") return fail("ACL SETUSER " + user + " answered " + set);
  }
  // Saved (as hashes) into the file, so that a restart keeps them.
  if (!users.empty() && server->Ask("ACL SAVE") != "+OK\r\n") return fail("ACL SAVE failed");
  return server;
}

RedisServerOptions WithShippedUsers(std::string prefix) {
  RedisServerOptions options;
  options.acl_users_prefix = std::move(prefix);
  return options;
}

std::string RedisUserPassword(std::string_view user) {
  std::string password(user);
  password += "-password";
  return password;
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
  const pid_t pid = Spawn(std::move(args), console, /*own_group=*/false);
  if (pid < 0) return ServerDown(ErrnoText("fork"));
  child_.Adopt(pid);

  auto failure = [&log, &console](const std::string& why) {
    return ServerDown(WithTails(why, {log, console}));
  };
  const Clock::time_point deadline =
      Clock::now() + std::chrono::milliseconds(options_.startup_timeout_ms);
  while (true) {
    int wstatus = 0;
    if (child_.Exited(&wstatus)) {
      return failure("redis-server on port " + std::to_string(port_) + " exited (status " +
                     std::to_string(wstatus) + ") before answering PING");
    }
    // PONG only once the AOF is loaded (before that it answers -LOADING); the process id tells
    // our server from another one that took the port.
    if (Query(port_, "PING\r\n") == "+PONG\r\n") {
      const std::string info = Query(port_, "INFO server\r\n");
      if (info.find("process_id:" + std::to_string(child_.pid()) + "\r\n") != std::string::npos) {
        return {};
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

void RedisServer::Kill() { child_.Kill(); }

void RedisServer::Stop() { child_.Stop(std::chrono::seconds(10)); }

RedisServer::Status RedisServer::Restart() {
  Stop();
  return Launch();
}

void RedisServer::Pause() { child_.Pause(); }

std::string RedisServer::Ask(const std::string& inline_command, int timeout_ms) const {
  return Query(port_, inline_command + "\r\n", timeout_ms);
}

void RedisServer::Resume() { child_.Resume(); }

}  // namespace stockgate::testing
