// The virtual PC a backend runs: guest memory, the port and MMIO buses with the PC devices and
// the virtio-blk disks on PCI, the console, and the machine-level requests (exit, reset, quit).
// Backend-independent: the KVM backend and the binary translator run the same Machine. Device
// DMA never bypasses the write traces (see GuestDma).
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>

#include <vector>

#include "devices/bus.h"
#include "devices/dma_memory.h"
#include "devices/pc_devices.h"
#include "devices/virtio_pci.h"
#include "mmu/machine_memory.h"
#include "mmu/write_traces.h"

namespace btvmm::host {

enum class StopReason { kNone, kGuestExit, kReset, kTripleFault, kQuit, kTimeout };

// DMA into guest RAM as devices see it (devices/dma_memory.h). Every write is reported to the
// write traces after it lands, so the shadow MMU drops mappings derived from page tables the
// device overwrote and the translator invalidates code it read from those pages (DESIGN.md 3,
// "TC coherency"): a disk read into a page that once held translated code must not leave stale
// translations behind.
class GuestDma final : public devices::DmaMemory {
 public:
  GuestDma(mmu::GuestMemory& memory, mmu::WriteTraces& traces) : memory_(memory), traces_(traces) {}
  bool read(uint64_t gpa, void* dst, uint64_t len) override;
  bool write(uint64_t gpa, const void* src, uint64_t len) override;

 private:
  mmu::GuestMemory& memory_;
  mmu::WriteTraces& traces_;
};

class Machine : public devices::MachineControl, public devices::Clock {
 public:
  // Each disk becomes a virtio-blk PCI function (slots 1, 2, ... in order: /dev/vda, vdb...).
  // The backends outlive the machine (a -snapshot overlay lives across guest reboots).
  Machine(uint64_t ram_bytes, devices::CharBackend& console, const std::vector<devices::VirtioBackend*>& disks = {});
  ~Machine() override;

  mmu::GuestMemory& memory() { return memory_; }
  // One registry per machine: the CPU backend's shadow MMU and translator subscribe to it, and
  // device DMA reports to it.
  mmu::WriteTraces& write_traces() { return traces_; }
  devices::DmaMemory& dma() { return dma_; }
  devices::PciBus& pci_bus() { return devices_->pci_bus(); }
  devices::PortBus& ports() { return ports_; }
  devices::MmioBus& mmio() { return mmio_; }
  devices::InterruptController& interrupts();

  // devices::MachineControl (vCPU thread)
  void request_exit(int status) override;
  void request_reset() override;
  // From the backend.
  void triple_fault();
  // From other threads (terminal reader, timeout): thread-safe.
  void request_quit();
  void request_timeout();
  void push_input(uint8_t byte);

  // devices::Clock: nanoseconds since the machine was created.
  uint64_t now_ns() const override;

  // vCPU thread: moves terminal input into the UART, runs timed devices whose deadline passed,
  // and returns the next deadline (Clock time) or UINT64_MAX.
  uint64_t service_devices();

  // Set when the run loop must stop; the exit status is meaningful for kGuestExit.
  StopReason stop_reason() const { return stop_.load(std::memory_order_acquire); }
  int guest_exit_status() const { return exit_status_; }

  // An eventfd that becomes readable when something from outside the vCPU thread needs
  // attention (input, quit); backends wait on it while the guest halts.
  int wake_fd() const { return wake_fd_; }
  // Drains the eventfd; costs one atomic load and no system call, when nothing woke the machine
  // (the BT dispatcher calls it on every pass).
  void consume_wake();

 private:
  void stop(StopReason r);
  void wake();

  mmu::GuestMemory memory_;
  mmu::WriteTraces traces_;
  GuestDma dma_;
  devices::PortBus ports_;
  devices::MmioBus mmio_;
  std::unique_ptr<devices::PcDevices> devices_;
  std::vector<std::unique_ptr<devices::VirtioPci>> disks_;
  uint64_t start_ns_;
  std::atomic<StopReason> stop_{StopReason::kNone};
  int exit_status_ = 0;
  int wake_fd_ = -1;
  // Set after each write to wake_fd_, so a set flag always has the write behind it.
  std::atomic<bool> woken_{false};
  std::mutex input_mu_;
  std::deque<uint8_t> input_;
  // input_ is not empty: lets service_devices skip the lock when there is nothing to hand over.
  std::atomic<bool> input_waiting_{false};
};

}  // namespace btvmm::host
