// Child processes for the test servers (RedisServer, MariaDbServer): finding a binary, a free
// loopback port, spawning a server that dies with the test process, and ChildProcess, which kills,
// stops, freezes and thaws it. Also the tail of a log file for failure messages, unique temp
// files, and promtool's check of a metrics page.
#ifndef STOCKGATE_TESTS_SUPPORT_PROCESS_H_
#define STOCKGATE_TESTS_SUPPORT_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <initializer_list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"

namespace stockgate::testing {

// `requested` when given (empty if not executable), else /usr/sbin/NAME, /usr/bin/NAME, then PATH.
std::string FindBinary(const std::string& requested, const std::string& name);

// Binds port 0 on loopback and returns the port the kernel chose (0 on failure). Another process
// could take it before the server binds it: callers retry on "Address already in use".
int FreePort();

// The last `lines` lines of a file, each indented, for error messages.
std::string Tail(const std::string& path, std::size_t lines);
// `why`, then the last 20 lines of each file.
std::string WithTails(std::string why, std::initializer_list<std::string> paths);
// "call: <strerror(errno)>"
std::string ErrnoText(const char* call);

// A test server that did not come up (or a tool that failed), and why: kUnavailable.
inline core::Error ServerDown(std::string why) {
  return core::Fail(core::Code::kUnavailable, std::move(why));
}

// Writes `contents` to a new file in the temp dir named STEM-XXXXXX.SUFFIX, unique even when tests
// of two builds run at once, and returns its path ("" when it cannot be written).
std::string WriteTempFile(const std::string& stem, const std::string& suffix,
                          const std::string& contents);

// A self-signed certificate for 127.0.0.1 (in its subject and subjectAltName) and its key, made
// by `openssl` for a test in a new temp dir (removed by the destructor). The certificate is its
// own CA: a client trusts the server by taking `cert` as its CA file. `other_key` is a key of
// the same kind that matches nothing, and `other_cert` another such certificate (a stranger's).
struct TestCertificate {
  std::string dir, cert, key, other_key, other_cert;
  ~TestCertificate();
};
core::Result<std::unique_ptr<TestCertificate>> MakeTestCertificate();

// Runs `promtool check metrics` on a Prometheus text exposition. Empty when it passes without a
// word; otherwise its exit status and everything it printed.
std::string PromtoolProblems(const std::string& exposition);

// Forks and execs args[0] with stdout and stderr appended to `output`, stdin from /dev/null, no
// inherited descriptors, default signal handling, and PR_SET_PDEATHSIG so it dies with the test
// process. Returns the pid, or -1 with errno set. With own_group the child leads a new process
// group, so kill(-pid) reaches its descendants too.
pid_t Spawn(std::vector<std::string> args, const std::string& output, bool own_group);

// Waits for a child that has been signalled to end.
void Reap(pid_t pid);

// A spawned server process.
class ChildProcess {
 public:
  pid_t pid() const { return pid_; }  // 0 when not running
  bool running() const { return pid_ > 0; }
  void Adopt(pid_t pid) {
    pid_ = pid;
    paused_ = false;
  }
  // True (and forgets the pid) when the process has exited; *wait_status gets its status.
  bool Exited(int* wait_status);
  void Kill();  // SIGKILL and reap: a crash
  // SIGTERM and reap; SIGKILL after `grace`.
  void Stop(std::chrono::milliseconds grace);
  void Pause();   // SIGSTOP; returns once the process is stopped
  void Resume();  // SIGCONT

 private:
  pid_t pid_ = 0;
  bool paused_ = false;
};

}  // namespace stockgate::testing

#endif  // STOCKGATE_TESTS_SUPPORT_PROCESS_H_
