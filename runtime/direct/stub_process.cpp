// Starting, commanding and reaping a direct-execution stub (DESIGN.md 3a). Every host call is
// checked; a stub that dies or misreports is a btvmm error, never undefined behaviour.
// Never writes monitor pointers into the control page.
#include "runtime/direct/stub_process.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <signal.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "core/error.h"

namespace btvmm::direct {
namespace {

long futex(volatile uint32_t* word, int op, uint32_t val, const timespec* timeout) {
  return syscall(SYS_futex, const_cast<uint32_t*>(word), op, val, timeout, nullptr, 0);
}

// In the forked child: only async-signal-safe calls until execve.
[[noreturn]] void exec_stub(const char* path, int memory_fd, int control_fd) {
  // Move both fds out of the way first so dup2 onto 3/4 cannot clobber one of them.
  int mem = fcntl(memory_fd, F_DUPFD, 100);
  int ctl = fcntl(control_fd, F_DUPFD, 100);
  if (mem < 0 || ctl < 0 || dup2(mem, BTVMM_STUB_FD_MEMORY) < 0 || dup2(ctl, BTVMM_STUB_FD_CONTROL) < 0) _exit(120);
  // Nothing else of the monitor's may reach the stub.
  syscall(SYS_close_range, BTVMM_STUB_FD_CONTROL + 1, ~0u, 0);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  char* const argv[] = {const_cast<char*>("btvmm-stub"), nullptr};
  char* const envp[] = {nullptr};
  execve(path, argv, envp);
  _exit(121);
}

}  // namespace

StubProcess::StubProcess(const std::string& stub_path, int memory_fd) {
  control_fd_ = memfd_create("btvmm-stub-control", MFD_CLOEXEC);
  if (control_fd_ < 0) throw_errno("memfd_create(btvmm-stub-control)");
  if (ftruncate(control_fd_, BTVMM_STUB_CONTROL_BYTES) != 0) throw_errno("ftruncate(stub control page)");
  void* p = mmap(nullptr, BTVMM_STUB_CONTROL_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, control_fd_, 0);
  if (p == MAP_FAILED) throw_errno("mmap(stub control page)");
  static_assert(sizeof(btvmm_stub_control) <= BTVMM_STUB_CONTROL_BYTES);
  ctl_ = static_cast<btvmm_stub_control*>(p);
  pid_ = fork();
  if (pid_ < 0) throw_errno("fork(direct-execution stub)");
  if (pid_ == 0) exec_stub(stub_path.c_str(), memory_fd, control_fd_);
  // The stub parks in its handler without reporting; a flush proves it is up and confined.
  command(BTVMM_CMD_FLUSH);
}

StubProcess::~StubProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  if (ctl_) munmap(ctl_, BTVMM_STUB_CONTROL_BYTES);
  if (control_fd_ >= 0) close(control_fd_);
}

void StubProcess::enqueue(const btvmm_stub_request& r) {
  if (queued_ >= BTVMM_STUB_MAX_REQUESTS) flush();
  ctl_->requests[queued_++] = r;
}

void StubProcess::flush() {
  if (queued_ != 0) command(BTVMM_CMD_FLUSH);
}

void StubProcess::kick() const { kill(pid_, SIGUSR1); }

void StubProcess::command(btvmm_stub_command cmd) {
  ctl_->command = cmd;
  ctl_->failed_request = 0;
  ctl_->request_count = queued_;
  queued_ = 0;
  const uint32_t seq = ctl_->command_seq + 1;
  std::atomic_ref<uint32_t>(const_cast<uint32_t&>(ctl_->command_seq)).store(seq, std::memory_order_seq_cst);
  if (std::atomic_ref<uint32_t>(const_cast<uint32_t&>(ctl_->stub_waiting)).load(std::memory_order_seq_cst))
    futex(&ctl_->command_seq, FUTEX_WAKE, 1, nullptr);
  wait_done(seq);
  if (ctl_->failed_request != 0) {
    const int index = ctl_->failed_request - 1;
    // The index comes from the control page, which an escaped guest can write: bound it.
    const btvmm_stub_request& r = ctl_->requests[index >= 0 && index < int(BTVMM_STUB_MAX_REQUESTS) ? index : 0];
    fail(ExitCode::kInternal, "direct-execution stub: request {} (op {}, {:#x}+{} pages, ldt entry {}): {}", index, r.op,
         r.first, r.pages, r.ldt.entry_number, strerror(ctl_->failed_errno));
  }
}

void StubProcess::wait_done(uint32_t seq) {
  auto done = std::atomic_ref<uint32_t>(const_cast<uint32_t&>(ctl_->done_seq));
  // Most answers come within a few microseconds: spin before sleeping, yielding now and then
  // in case the scheduler put the stub on this CPU (control_page.h).
  for (int i = 0; i < BTVMM_HANDSHAKE_SPINS; i++) {
    if (done.load(std::memory_order_acquire) == seq) return;
    __builtin_ia32_pause();
    if (i % BTVMM_HANDSHAKE_YIELD_EVERY == BTVMM_HANDSHAKE_YIELD_EVERY - 1) sched_yield();
  }
  auto waiting = std::atomic_ref<uint32_t>(const_cast<uint32_t&>(ctl_->monitor_waiting));
  for (;;) {
    waiting.store(1, std::memory_order_seq_cst);
    const uint32_t now = done.load(std::memory_order_seq_cst);
    if (now == seq) break;
    const timespec tick{0, 100 * 1000 * 1000};
    futex(&ctl_->done_seq, FUTEX_WAIT, now, &tick);
    check_alive();
  }
  waiting.store(0, std::memory_order_relaxed);
}

void StubProcess::check_alive() {
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == 0) return;
  if (r < 0) throw_errno("waitpid(direct-execution stub)");
  pid_ = -1;
  if (WIFSIGNALED(status))
    fail(ExitCode::kInternal, "direct-execution stub killed by signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status)));
  fail(ExitCode::kInternal, "direct-execution stub exited with status {}", WEXITSTATUS(status));
}

}  // namespace btvmm::direct
