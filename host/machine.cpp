#include "host/machine.h"

#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "core/stats.h"

namespace btvmm::host {

namespace {
stats::Counter c_resets{"machine.resets", "guest resets requested (i8042, triple fault)"};
stats::Counter c_triple_faults{"machine.triple_faults", "guest triple faults (shutdown)"};
stats::Counter c_input_bytes{"machine.console_input_bytes", "bytes typed into the guest console"};

uint64_t monotonic_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}
}  // namespace

bool GuestDma::read(uint64_t gpa, void* dst, uint64_t len) { return memory_.read(GuestPhysAddr{gpa}, dst, len); }

bool GuestDma::write(uint64_t gpa, const void* src, uint64_t len) {
  if (!memory_.write(GuestPhysAddr{gpa}, src, len)) return false;
  traces_.report_physical_write(GuestPhysAddr{gpa}, len);
  return true;
}

Machine::Machine(uint64_t ram_bytes, devices::CharBackend& console, const std::vector<devices::VirtioBackend*>& disks)
    : memory_(ram_bytes), dma_(memory_, traces_), start_ns_(monotonic_ns()) {
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) throw_errno("eventfd(machine wake)");
  devices_ = std::make_unique<devices::PcDevices>(ports_, mmio_, *this, *this, console, ram_bytes);
  for (devices::VirtioBackend* disk : disks) {
    disks_.push_back(std::make_unique<devices::VirtioPci>(*disk, dma_));
    devices_->pci_bus().add(*disks_.back());
  }
}

Machine::~Machine() {
  if (wake_fd_ >= 0) close(wake_fd_);
}

devices::InterruptController& Machine::interrupts() { return devices_->interrupt_controller(); }

uint64_t Machine::now_ns() const { return monotonic_ns() - start_ns_; }

void Machine::stop(StopReason r) {
  StopReason expected = StopReason::kNone;
  stop_.compare_exchange_strong(expected, r, std::memory_order_acq_rel);
  wake();
}

void Machine::request_exit(int status) {
  exit_status_ = status;
  stop(StopReason::kGuestExit);
}

void Machine::request_reset() {
  c_resets.inc();
  stop(StopReason::kReset);
}

void Machine::triple_fault() {
  c_triple_faults.inc();
  stop(StopReason::kTripleFault);
}

void Machine::request_quit() { stop(StopReason::kQuit); }
void Machine::request_timeout() { stop(StopReason::kTimeout); }

void Machine::wake() {
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof one);
  woken_.store(true, std::memory_order_release);
}

void Machine::consume_wake() {
  // Cleared before the read: a wake racing with us either is drained by this read or sets the
  // flag again after its write, so the eventfd is never left readable with the flag clear.
  if (!woken_.load(std::memory_order_acquire)) return;
  woken_.exchange(false, std::memory_order_acq_rel);
  uint64_t v;
  [[maybe_unused]] ssize_t n = read(wake_fd_, &v, sizeof v);
}

void Machine::push_input(uint8_t byte) {
  {
    std::lock_guard<std::mutex> lock(input_mu_);
    input_.push_back(byte);
    input_waiting_.store(true, std::memory_order_release);
  }
  wake();
}

uint64_t Machine::service_devices() {
  bool input_left = false;
  if (input_waiting_.load(std::memory_order_acquire)) {
    // Only as many bytes as the UART can take: the rest waits, which is the flow control a
    // real terminal line gives (a pasted script is not lost to receiver overrun).
    std::lock_guard<std::mutex> lock(input_mu_);
    while (!input_.empty() && devices_->console_can_receive()) {
      devices_->console_receive(input_.front());
      input_.pop_front();
      c_input_bytes.inc();
    }
    input_left = !input_.empty();
    input_waiting_.store(input_left, std::memory_order_release);
  }
  uint64_t now = now_ns();
  uint64_t next = UINT64_MAX;
  for (devices::TimedDevice* d : devices_->timed_devices()) {
    if (d->next_deadline_ns() <= now) d->poll(now);
    next = std::min(next, d->next_deadline_ns());
  }
  // Pending input that did not fit: come back soon (the guest drains the FIFO at line rate).
  if (input_left) next = std::min(next, now + 1000000);
  return next;
}

}  // namespace btvmm::host
