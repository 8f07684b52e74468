#include "host/terminal.h"

#include <poll.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "core/error.h"

namespace btvmm::host {

namespace {

struct termios g_saved;
volatile sig_atomic_t g_raw_active = 0;
constexpr uint8_t kEscape = 0x01;  // Ctrl-a

void on_fatal_signal(int sig) {
  restore_terminal();
  signal(sig, SIG_DFL);
  raise(sig);
}

}  // namespace

void restore_terminal() {
  if (g_raw_active) {
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &g_saved);
    g_raw_active = 0;
  }
}

Terminal::Terminal() {
  if (pipe(stop_pipe_) != 0) throw_errno("pipe(terminal)");
  if (!isatty(STDIN_FILENO)) return;
  if (tcgetattr(STDIN_FILENO, &g_saved) != 0) throw_errno("tcgetattr(stdin)");
  struct termios raw = g_saved;
  cfmakeraw(&raw);
  raw.c_oflag |= OPOST | ONLCR;  // keep the host's newline handling for guest output
  g_raw_active = 1;
  std::atexit(restore_terminal);
  for (int sig : {SIGTERM, SIGHUP, SIGQUIT, SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL}) {
    struct sigaction sa {};
    sa.sa_handler = on_fatal_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND;
    sigaction(sig, &sa, nullptr);
  }
  if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) != 0) throw_errno("tcsetattr(stdin, raw)");
  raw_ = true;
}

Terminal::~Terminal() {
  if (reader_.joinable()) {
    char c = 0;
    [[maybe_unused]] ssize_t n = ::write(stop_pipe_[1], &c, 1);
    reader_.join();
  }
  close(stop_pipe_[0]);
  close(stop_pipe_[1]);
  restore_terminal();
}

void Terminal::start_input(std::function<void(uint8_t)> on_byte, std::function<void()> on_quit) {
  on_byte_ = std::move(on_byte);
  on_quit_ = std::move(on_quit);
  reader_ = std::thread([this] { reader_loop(); });
}

void Terminal::reader_loop() {
  bool escape = false;
  for (;;) {
    struct pollfd fds[2] = {{STDIN_FILENO, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents) return;
    if (!(fds[0].revents & (POLLIN | POLLHUP))) continue;
    uint8_t buf[256];
    ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
    if (n <= 0) return;  // end of input: the guest simply gets no more bytes
    for (ssize_t i = 0; i < n; ++i) {
      uint8_t c = buf[i];
      if (escape) {
        escape = false;
        if (c == 'x') {
          on_quit_();
          return;
        }
        if (c == kEscape) on_byte_(c);
        continue;  // 'c' (monitor) and other keys after Ctrl-a are reserved
      }
      if (c == kEscape && raw_) {
        escape = true;
        continue;
      }
      on_byte_(c);
    }
  }
}

void FdCharBackend::write(uint8_t byte) {
  for (;;) {
    ssize_t n = ::write(fd_, &byte, 1);
    if (n == 1 || (n < 0 && errno != EINTR)) return;
  }
}

}  // namespace btvmm::host
