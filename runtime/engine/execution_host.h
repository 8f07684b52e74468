// What the TC engine needs from the machine around it (DESIGN.md 3, 4): interrupts from the
// virtual PIC, sleeping in HLT, device servicing and stop requests. Implemented by host/ for the
// real machine and by fakes in tests. Knows nothing of how the guest is executed.
#pragma once

#include <cstdint>

namespace btvmm::runtime::engine {

class ExecutionHost {
 public:
  virtual ~ExecutionHost() = default;
  // A maskable interrupt is pending at the interrupt controller.
  virtual bool interrupt_pending() = 0;
  // INTA: takes the highest-priority pending interrupt and returns its vector.
  virtual uint8_t acknowledge_interrupt() = 0;
  // HLT with interrupts enabled: block until an interrupt may be pending or a stop is requested.
  virtual void wait_for_interrupt() = 0;
  // Gives device models a chance to run (timers, I/O completion); called between fragments.
  virtual void service_devices() = 0;
  virtual bool stop_requested() = 0;
};

}  // namespace btvmm::runtime::engine
