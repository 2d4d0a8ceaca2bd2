#include "tests/support/mariadb_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <mysql.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <iostream>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

namespace stockgate::testing {
namespace {

using Clock = std::chrono::steady_clock;

// A small redo log (the default is 96 MiB) keeps the data dir small enough to copy quickly.
constexpr const char* kRedoLogSize = "--innodb-log-file-size=16M";

bool IsExecutable(const std::string& path) {
  return !path.empty() && access(path.c_str(), X_OK) == 0;
}

// `requested` when given, else /usr/sbin/NAME (mariadbd on Debian), /usr/bin/NAME, then PATH.
std::string FindBinary(const std::string& requested, const std::string& name) {
  if (!requested.empty()) return IsExecutable(requested) ? requested : std::string();
  for (const char* dir : {"/usr/sbin/", "/usr/bin/"}) {
    std::string candidate = dir;
    candidate += name;
    if (IsExecutable(candidate)) return candidate;
  }
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string candidate = dirs.substr(start, end - start);
    candidate += '/';
    candidate += name;
    if (end > start && IsExecutable(candidate)) return candidate;
    start = end + 1;
  }
  return {};
}

// Binds port 0 on loopback and returns the port the kernel chose. Another process could take it
// before mariadbd binds it; Start retries on "Address already in use".
int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

std::string Flag(const char* name, const std::string& value) {
  std::string flag = name;
  flag += '=';
  flag += value;
  return flag;
}

std::string Tail(const std::string& path, size_t lines) {
  std::ifstream in(path);
  if (!in) {
    std::string missing = "  (no ";
    missing += path;
    missing += ")\n";
    return missing;
  }
  std::deque<std::string> last;
  for (std::string line; std::getline(in, line);) {
    last.push_back(std::move(line));
    if (last.size() > lines) last.pop_front();
  }
  std::string out;
  for (const std::string& line : last) {
    out += "  ";
    out += line;
    out += '\n';
  }
  return out;
}

// `why`, then the last lines of each file.
std::string WithTails(std::string why, std::initializer_list<std::string> paths) {
  for (const std::string& path : paths) {
    why += "\n-- ";
    why += path;
    why += " (tail):\n";
    why += Tail(path, 20);
  }
  return why;
}

std::string NotExecutable(const char* what, const std::string& path) {
  std::string why = what;
  why += " binary not executable: ";
  why += path;
  return why;
}

// "call: <strerror(errno)>"
std::string ErrnoText(const char* call) {
  std::string text = call;
  text += ": ";
  text += std::generic_category().message(errno);
  return text;
}

void Reap(pid_t pid) {
  while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

// Forks and execs args[0] with stdout and stderr appended to `output`, stdin from /dev/null.
// Returns the child's pid, or -1 with errno set. With own_group the child leads a new process
// group, so kill(-pid) reaches its descendants too.
pid_t Spawn(std::vector<std::string> args, const std::string& output, bool own_group) {
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
  if (pid != 0) return pid;
  // Dies with the test process even when that one is killed, so no server outlives a run.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(127);
  if (own_group) setpgid(0, 0);
  // Ignored signals and the signal mask survive exec; the test process may ignore SIGPIPE.
  signal(SIGPIPE, SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  const int out = open(output.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
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

// mariadbd refuses to run as root unless told to; as anyone else --user must be left out.
void AddUserArg(std::vector<std::string>& args) {
  if (geteuid() == 0) args.emplace_back("--user=root");
}

enum class Probe { kNotYet, kReady, kFailed };

// Connects as root over the socket and creates `database`. kNotYet while the server does not
// accept connections (still starting or recovering); kFailed when it does but the statement fails.
Probe ProbeServer(const std::string& socket, const std::string& database, std::string* error) {
  MYSQL* mysql = mysql_init(nullptr);
  if (mysql == nullptr) {
    *error = "mysql_init: out of memory";
    return Probe::kFailed;
  }
  const unsigned int timeout_s = 1;
  const unsigned int protocol = MYSQL_PROTOCOL_SOCKET;
  mysql_options(mysql, MYSQL_OPT_CONNECT_TIMEOUT, &timeout_s);
  mysql_options(mysql, MYSQL_OPT_PROTOCOL, &protocol);
  Probe probe = Probe::kReady;
  if (mysql_real_connect(mysql, "localhost", "root", "", nullptr, 0, socket.c_str(), 0) ==
      nullptr) {
    probe = Probe::kNotYet;
    *error = mysql_error(mysql);
  } else {
    std::string sql = "CREATE DATABASE IF NOT EXISTS `";
    for (const char c : database) {
      sql += c;
      if (c == '`') sql += c;  // a backtick inside a quoted identifier is doubled
    }
    sql += '`';
    if (mysql_real_query(mysql, sql.data(), sql.size()) != 0) {
      probe = Probe::kFailed;
      *error = sql;
      *error += ": ";
      *error += mysql_error(mysql);
    }
  }
  mysql_close(mysql);
  return probe;
}

}  // namespace

MariaDbServer::MariaDbServer(Options options, std::string binary, std::string dir, int port)
    : options_(std::move(options)),
      binary_(std::move(binary)),
      dir_(std::move(dir)),
      socket_(dir_ + "/mariadb.sock"),
      port_(port) {}

MariaDbServer::~MariaDbServer() {
  Kill();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::unique_ptr<MariaDbServer> MariaDbServer::Start(const Options& options, std::string* error) {
  auto fail = [error](const std::string& why) -> std::unique_ptr<MariaDbServer> {
    std::cerr << "MariaDbServer::Start failed: " << why << std::endl;
    if (error != nullptr) *error = why;
    return nullptr;
  };
  const std::string binary = FindBinary(options.binary, "mariadbd");
  if (binary.empty()) {
    return fail(options.binary.empty() ? "mariadbd not found in /usr/sbin, /usr/bin or PATH "
                                         "(apt-get install mariadb-server)"
                                       : NotExecutable("mariadbd", options.binary));
  }
  const std::string install_db = FindBinary(options.install_db_binary, "mariadb-install-db");
  if (install_db.empty()) {
    return fail(options.install_db_binary.empty()
                    ? "mariadb-install-db not found in /usr/sbin, /usr/bin or PATH "
                      "(apt-get install mariadb-server)"
                    : NotExecutable("mariadb-install-db", options.install_db_binary));
  }
  // Always /tmp, not $TMPDIR: the socket path inside must stay under 108 bytes (sun_path).
  std::string pattern = "/tmp/sg-maria-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) {
    return fail(ErrnoText("mkdtemp /tmp/sg-maria-XXXXXX"));
  }
  std::unique_ptr<MariaDbServer> server(new MariaDbServer(options, binary, pattern, 0));
  Status status = server->Install(install_db);
  if (!status.ok) return fail(status.error);
  // A port found free can be taken by another process before mariadbd binds it.
  for (int attempt = 0; attempt < 3; ++attempt) {
    server->port_ = FreePort();
    if (server->port_ == 0) return fail("no free loopback port");
    status = server->Launch();
    if (status.ok || status.error.find("Address already in use") == std::string::npos) break;
  }
  if (!status.ok) return fail(status.error);
  return server;
}

MariaDbServer::Status MariaDbServer::Install(const std::string& install_db) {
  // mariadb-install-db takes seconds (about a thousand fsyncs) and ctest runs every test in a
  // process of its own, so one fresh install per machine and user serves as a template that each
  // server copies (a fraction of a second). The name changes with the binary, so an upgraded
  // MariaDB gets a new template.
  std::error_code ec;
  const auto stamp = std::filesystem::last_write_time(binary_, ec).time_since_epoch().count();
  std::string tmpl = "/tmp/sg-maria-template-";
  tmpl += std::to_string(getuid());
  tmpl += '-';
  tmpl += std::to_string(std::hash<std::string>{}(binary_ + std::to_string(stamp)) % 1000000);
  const std::string ready = tmpl + "/data/.stockgate-template-complete";
  if (!std::filesystem::exists(ready)) {
    // One process installs; the others wait on the lock and then find it done.
    const std::string lock_path = tmpl + ".lock";
    const int lock = open(lock_path.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
    if (lock < 0) return {false, ErrnoText(lock_path.c_str())};
    flock(lock, LOCK_EX);
    Status status{true, {}};
    if (!std::filesystem::exists(ready)) {
      std::filesystem::remove_all(tmpl, ec);
      std::filesystem::create_directories(tmpl, ec);
      status = RunInstallDb(install_db, tmpl + "/data", tmpl + "/install-db.log");
      if (status.ok) std::ofstream(ready) << "ok\n";
    }
    flock(lock, LOCK_UN);
    close(lock);
    if (!status.ok) return status;
  }
  std::filesystem::copy(tmpl + "/data", dir_ + "/data", std::filesystem::copy_options::recursive,
                        ec);
  if (ec) return {false, "copying the MariaDB template " + tmpl + ": " + ec.message()};
  std::filesystem::remove(dir_ + "/data/.stockgate-template-complete", ec);
  return {true, {}};
}

MariaDbServer::Status MariaDbServer::RunInstallDb(const std::string& install_db,
                                                  const std::string& datadir,
                                                  const std::string& log) {
  std::vector<std::string> args = {install_db,
                                   "--no-defaults",
                                   Flag("--datadir", datadir),
                                   "--auth-root-authentication-method=normal",
                                   "--skip-test-db",
                                   kRedoLogSize};
  AddUserArg(args);
  // Its own process group: on a timeout the bootstrap mariadbd it runs is killed with it.
  const pid_t pid = Spawn(std::move(args), log, /*own_group=*/true);
  if (pid < 0) return {false, ErrnoText("fork")};
  const Clock::time_point deadline =
      Clock::now() + std::chrono::milliseconds(options_.startup_timeout_ms);
  while (true) {
    int wstatus = 0;
    const pid_t done = waitpid(pid, &wstatus, WNOHANG);
    if (done == pid) {
      if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) return {true, {}};
      std::string why = install_db;
      why += " failed (wait status ";
      why += std::to_string(wstatus);
      why += ')';
      return {false, WithTails(std::move(why), {log})};
    }
    if (done < 0 && errno != EINTR) return {false, ErrnoText("waitpid")};
    if (Clock::now() > deadline) {
      kill(-pid, SIGKILL);
      Reap(pid);
      std::string why = install_db;
      why += " did not finish within ";
      why += std::to_string(options_.startup_timeout_ms);
      why += " ms";
      return {false, WithTails(std::move(why), {log})};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

MariaDbServer::Status MariaDbServer::Launch() {
  const std::string log = dir_ + "/mariadb.err";
  const std::string console = dir_ + "/mariadb.stdout";  // what it says before the log opens
  std::vector<std::string> args = {
      binary_, "--no-defaults", Flag("--datadir", dir_ + "/data"), Flag("--socket", socket_),
      Flag("--pid-file", dir_ + "/mariadb.pid"), Flag("--log-error", log),
      Flag("--port", std::to_string(port_)), "--bind-address=127.0.0.1",
      // Durability as shipped: the redo log is fsynced at every commit, so tests may Kill the
      // server and expect committed rows after Restart.
      "--innodb-flush-log-at-trx-commit=1", "--innodb-doublewrite=1", "--skip-log-bin",
      // For fast tests: a small pool, no buffer pool dump or load, no DNS lookups (root@127.0.0.1
      // matches by address).
      kRedoLogSize, "--innodb-buffer-pool-size=64M", "--innodb-buffer-pool-dump-at-shutdown=0",
      "--innodb-buffer-pool-load-at-startup=0", "--skip-name-resolve"};
  AddUserArg(args);
  args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
  const pid_t pid = Spawn(std::move(args), console, /*own_group=*/false);
  if (pid < 0) return {false, ErrnoText("fork")};
  pid_ = pid;
  paused_ = false;

  std::string where = "mariadbd on port ";
  where += std::to_string(port_);
  const Clock::time_point deadline =
      Clock::now() + std::chrono::milliseconds(options_.startup_timeout_ms);
  std::string last_error;
  while (true) {
    int wstatus = 0;
    if (waitpid(pid_, &wstatus, WNOHANG) == pid_) {
      pid_ = 0;
      std::string why = where;
      why += " exited (wait status ";
      why += std::to_string(wstatus);
      why += ") before accepting connections";
      return {false, WithTails(std::move(why), {log, console})};
    }
    // The socket is in our private dir, so a server answering on it is ours. It is created once
    // InnoDB recovery is done, together with the TCP listener.
    switch (ProbeServer(socket_, options_.database, &last_error)) {
      case Probe::kReady:
        return {true, {}};
      case Probe::kFailed: {
        Kill();
        std::string why = where;
        why += ": ";
        why += last_error;
        return {false, WithTails(std::move(why), {log})};
      }
      case Probe::kNotYet:
        break;
    }
    if (Clock::now() > deadline) {
      Kill();
      std::string why = where;
      why += " did not accept a connection within ";
      why += std::to_string(options_.startup_timeout_ms);
      why += " ms; last error: ";
      why += last_error;
      return {false, WithTails(std::move(why), {log, console})};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void MariaDbServer::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);  // works on a stopped process too
  Reap(pid_);
  pid_ = 0;
  paused_ = false;
}

void MariaDbServer::Stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  if (paused_) kill(pid_, SIGCONT);  // a stopped process would hold SIGTERM pending forever
  const Clock::time_point deadline = Clock::now() + std::chrono::seconds(30);
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

MariaDbServer::Status MariaDbServer::Restart() {
  Stop();
  return Launch();
}

void MariaDbServer::Pause() {
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

void MariaDbServer::Resume() {
  if (pid_ <= 0 || !paused_) return;
  kill(pid_, SIGCONT);
  paused_ = false;
}

}  // namespace stockgate::testing
