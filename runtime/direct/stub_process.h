// The monitor's handle on one direct-execution stub process (DESIGN.md 3a): starts the static
// stub binary with the machine-memory memfd and a shared control page, queues requests for it,
// and runs the command handshake (spin, then futex). Never lets the stub see monitor memory:
// the stub gets two file descriptors and nothing else, and the control page is untrusted input.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "runtime/direct/control_page.h"

namespace btvmm::direct {

class StubProcess {
 public:
  // Starts `stub_path` (the btvmm_direct_stub binary) with `memory_fd` as its fd 3.
  StubProcess(const std::string& stub_path, int memory_fd);
  ~StubProcess();
  StubProcess(const StubProcess&) = delete;
  StubProcess& operator=(const StubProcess&) = delete;

  pid_t pid() const { return pid_; }
  btvmm_stub_control& control() { return *ctl_; }

  // Appends a request; executes the queue first (a kFlush round trip) when it is full.
  void enqueue(const btvmm_stub_request& r);
  // Executes the queued requests now.
  void flush();
  // Sends `command` and waits until the stub reports done (after an exit, for kRun).
  // Throws Error naming the request when the stub could not execute one, or if the stub died.
  void command(btvmm_stub_command command);
  // Sends a signal that ends direct execution at the next instruction boundary (any thread).
  void kick() const;

 private:
  void wait_done(uint32_t seq);
  void check_alive();

  pid_t pid_ = -1;
  int control_fd_ = -1;
  btvmm_stub_control* ctl_ = nullptr;
  // Requests queued since the last command. Kept here, not read back from the control page:
  // a guest that escaped to 64-bit mode can write that page at any time.
  uint32_t queued_ = 0;
};

}  // namespace btvmm::direct
