// TC entry and exit (DESIGN.md 3, 7 "Stacks", "FPU/SSE"): permanent code at the head of the TC
// that switches from the monitor to guest state and back. The exit path moves to the monitor
// stack before its first push, so nothing is ever written on the guest's stack. Never lets guest
// TF, AC or IF reach the host RFLAGS.
#pragma once

#include <cstdint>

#include "runtime/vcpu_state.h"
#include "translator/tc.h"

namespace btvmm::runtime::engine {

class Trampolines {
 public:
  explicit Trampolines(translator::TcMemory& tc);

  // Loads the guest GPRs, arithmetic flags + DF and FPU/SSE state from `vcpu`, jumps to `code`,
  // and returns vcpu.exit_reason once translated code reaches the exit path; the guest state is
  // then back in `vcpu` (all flags in vcpu.eflags, ESP in gpr[kEsp], FPU/SSE in vcpu.fxsave). On
  // return the host x87 control word and MXCSR are the caller's again and the x87 stack is empty,
  // as a function call leaves them (x86-64 psABI 3.2.1); the SSE registers hold guest values.
  TcExit enter(VcpuState& vcpu, const void* code) const { return static_cast<TcExit>(enter_(&vcpu, code)); }
  // Where exit stubs and redirected faults jump, with R15 = &vcpu and guest registers live.
  uint64_t exit_common() const { return exit_common_; }

 private:
  using EnterFn = uint32_t (*)(VcpuState*, const void*);
  EnterFn enter_ = nullptr;
  uint64_t exit_common_ = 0;
};

}  // namespace btvmm::runtime::engine
