// The user's terminal as the guest's serial console: raw mode while the guest runs (restored
// on every exit path, including fatal signals), a reader thread for keyboard input, and QEMU's
// escape key: Ctrl-a x quits, Ctrl-a Ctrl-a sends Ctrl-a, Ctrl-a c is reserved for a monitor.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <thread>

#include "devices/bus.h"

namespace btvmm::host {

class Terminal {
 public:
  Terminal();
  ~Terminal();
  Terminal(const Terminal&) = delete;
  Terminal& operator=(const Terminal&) = delete;

  // Starts reading stdin on a thread: each guest-bound byte goes to on_byte, Ctrl-a x calls
  // on_quit. Both run on the reader thread.
  void start_input(std::function<void(uint8_t)> on_byte, std::function<void()> on_quit);
  bool raw() const { return raw_; }

 private:
  void reader_loop();
  bool raw_ = false;
  int stop_pipe_[2] = {-1, -1};
  std::thread reader_;
  std::function<void(uint8_t)> on_byte_;
  std::function<void()> on_quit_;
};

// Guest serial output to a file descriptor (stdout by default), written as it comes.
class FdCharBackend : public devices::CharBackend {
 public:
  explicit FdCharBackend(int fd) : fd_(fd) {}
  void write(uint8_t byte) override;

 private:
  int fd_;
};

// Restores the terminal if raw mode is on (async-signal-safe; used by crash paths too).
void restore_terminal();

}  // namespace btvmm::host
