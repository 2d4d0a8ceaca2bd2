#include "tests/support/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <system_error>
#include <thread>

namespace stockgate::testing {
namespace {

using Clock = std::chrono::steady_clock;

bool IsExecutable(const std::string& path) {
  return !path.empty() && access(path.c_str(), X_OK) == 0;
}

}  // namespace

std::string FindBinary(const std::string& requested, const std::string& name) {
  if (!requested.empty()) return IsExecutable(requested) ? requested : std::string();
  for (const char* dir : {"/usr/sbin/", "/usr/bin/"}) {
    std::string candidate = dir;
    candidate += name;
    if (IsExecutable(candidate)) return candidate;
  }
  const char* path = std::getenv("PATH");
  const std::string dirs = path != nullptr ? path : "";
  std::size_t start = 0;
  while (start <= dirs.size()) {
    std::size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string candidate = dirs.substr(start, end - start);
    candidate += '/';
    candidate += name;
    if (end > start && IsExecutable(candidate)) return candidate;
    start = end + 1;
  }
  return {};
}

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

std::string Tail(const std::string& path, std::size_t lines) {
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

std::string WithTails(std::string why, std::initializer_list<std::string> paths) {
  for (const std::string& path : paths) {
    why += "\n-- ";
    why += path;
    why += " (tail):\n";
    why += Tail(path, 20);
  }
  return why;
}

std::string ErrnoText(const char* call) {
  std::string text = call;
  text += ": ";
  text += std::generic_category().message(errno);
  return text;
}

std::string WriteTempFile(const std::string& stem, const std::string& suffix,
                          const std::string& contents) {
  const char* dir = std::getenv("TMPDIR");
  std::string path = (dir != nullptr && *dir != '\0' ? std::string(dir) : std::string("/tmp")) +
                     "/" + stem + "-XXXXXX" + suffix;
  const int fd = mkstemps(path.data(), static_cast<int>(suffix.size()));
  if (fd < 0) return "";
  close(fd);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
  return out.good() ? path : std::string();
}

TestCertificate::~TestCertificate() {
  if (!dir.empty()) std::filesystem::remove_all(dir);
}

core::Result<std::unique_ptr<TestCertificate>> MakeTestCertificate() {
  const char* tmp = std::getenv("TMPDIR");
  std::string dir = (tmp != nullptr && *tmp != '\0' ? std::string(tmp) : std::string("/tmp")) +
                    "/stockgate-tls-XXXXXX";
  if (mkdtemp(dir.data()) == nullptr) return ServerDown(ErrnoText("mkdtemp"));
  auto c = std::make_unique<TestCertificate>();
  c->dir = dir;
  c->cert = dir + "/server.crt";
  c->key = dir + "/server.key";
  c->other_key = dir + "/other.key";
  c->other_cert = dir + "/other.crt";
  const auto self_signed = [&](const std::string& cert, const std::string& key) {
    return "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 "
           "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout '" +
           key + "' -out '" + cert + "'";
  };
  const std::string log = dir + "/openssl.log";
  const std::string cmd = "{ " + self_signed(c->cert, c->key) + " && " +
                          self_signed(c->other_cert, c->other_key) + "; } > '" + log + "' 2>&1";
  if (std::system(cmd.c_str()) != 0) return ServerDown(WithTails("openssl failed: " + cmd, {log}));
  // mariadbd, running as another user in some set-ups, must read them too.
  for (const std::string& f : {c->cert, c->key, c->other_cert, c->other_key}) {
    std::filesystem::permissions(
        f, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write |
               std::filesystem::perms::group_read | std::filesystem::perms::others_read);
  }
  return c;
}

std::string PromtoolProblems(const std::string& exposition) {
  const std::string path = WriteTempFile("metrics", ".txt", exposition);
  if (path.empty()) return "cannot write the exposition to a temp file";
  const std::string cmd = "promtool check metrics < '" + path + "' 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) {
    std::remove(path.c_str());
    return ErrnoText("popen");
  }
  std::string out;
  char buf[256];
  while (std::fgets(buf, sizeof buf, p) != nullptr) out += buf;
  const int status = pclose(p);
  std::remove(path.c_str());
  if (status == 0 && out.empty()) return "";
  return "promtool exit status " + std::to_string(status) + ": " + out;
}

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
  // Ignored signals and the signal mask survive exec; the test process ignores SIGPIPE
  // (RedisPool does) and may block signals.
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

void Reap(pid_t pid) {
  while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
}

bool ChildProcess::Exited(int* wait_status) {
  if (pid_ <= 0) return true;
  if (waitpid(pid_, wait_status, WNOHANG) != pid_) return false;
  pid_ = 0;
  paused_ = false;
  return true;
}

void ChildProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);  // works on a stopped process too
  Reap(pid_);
  pid_ = 0;
  paused_ = false;
}

void ChildProcess::Stop(std::chrono::milliseconds grace) {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  if (paused_) kill(pid_, SIGCONT);  // a stopped process would hold SIGTERM pending forever
  const Clock::time_point deadline = Clock::now() + grace;
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

void ChildProcess::Pause() {
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

void ChildProcess::Resume() {
  if (pid_ <= 0 || !paused_) return;
  kill(pid_, SIGCONT);
  paused_ = false;
}

}  // namespace stockgate::testing
