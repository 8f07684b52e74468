// The outcome of executing one guest instruction or delivering one event on the virtual CPU:
// the contract between the CPU-semantics code and whoever runs the guest (TC dispatcher).
// Plain data only: never refers to host state.
#pragma once

#include <optional>

#include "runtime/cpu_env.h"

namespace btvmm::runtime {

struct StepResult {
  enum Kind {
    kContinue,   // done; vcpu.eip advanced (or changed by a control transfer or a delivery)
    kHalt,       // hlt executed: vcpu.halted = true, eip after the hlt
    kException,  // deliver `exception` with deliver_exception(); eip still at the instruction
    kShutdown,   // triple fault (or an event btvmm cannot deliver, see interrupts.h)
  } kind = kContinue;
  GuestException exception{};

  static StepResult cont() { return {}; }
  static StepResult halt() { return {kHalt, {}}; }
  static StepResult fault(const GuestException& e) { return {kException, e}; }
  static StepResult shutdown() { return {kShutdown, {}}; }
};

// Internal currency of the CPU-semantics code: an exception the current step raised, if any.
using Fault = std::optional<GuestException>;

inline GuestException fault_with_selector(uint8_t vector, uint16_t selector, bool ext = false) {
  // Error code of a segment-related fault (SDM vol. 3 6.13): selector index and TI, plus EXT.
  return {vector, true, uint32_t(selector & 0xfffc) | (ext ? 1u : 0u), 0};
}
inline GuestException gp_sel(uint16_t selector) { return fault_with_selector(kGp, selector); }
inline GuestException np_sel(uint16_t selector) { return fault_with_selector(kNp, selector); }
inline GuestException ss_sel(uint16_t selector) { return fault_with_selector(kSsFault, selector); }
inline GuestException ts_sel(uint16_t selector) { return fault_with_selector(kTs, selector); }

}  // namespace btvmm::runtime
