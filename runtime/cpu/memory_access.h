// Guest memory access through segmentation: linear-address formation with the segment type and
// limit checks of Intel SDM vol. 3 5.3-5.4 (expand-up and expand-down), data reads/writes, and
// pushes/pops on a stack described by an SS cache and ESP (16- or 32-bit per SS.B).
// Only through CpuEnv: never dereferences a host pointer to guest memory.
#pragma once

#include <cstdint>

#include "runtime/cpu/step_result.h"
#include "runtime/cpu_env.h"
#include "runtime/vcpu_state.h"

namespace btvmm::runtime {

enum class Access { kRead, kWrite, kExecute };

// Linear address of seg:offset for an access of `size` bytes. A violation raises #GP(0), or
// #SS(0) when `which` is SS (SDM vol. 3 6.15, #SS: "limit violation ... referencing SS").
Fault linearize(const SegmentCache& seg, SegReg which, uint32_t offset, unsigned size, Access access,
                uint32_t* la);

// Data access of the current instruction at seg:offset with the CPL's privilege (CPL 3 ->
// user access for paging, SDM vol. 3 4.6).
Fault read_data(const VcpuState& vcpu, CpuEnv& env, SegReg seg, uint32_t offset, void* dst, unsigned size);
Fault write_data(const VcpuState& vcpu, CpuEnv& env, SegReg seg, uint32_t offset, const void* src, unsigned size);

// Implicit supervisor access to a system structure at a linear address (GDT, LDT, IDT, TSS).
Fault read_system(CpuEnv& env, uint32_t la, void* dst, unsigned size);
Fault write_system(CpuEnv& env, uint32_t la, const void* src, unsigned size);

// A stack being pushed or popped without committing to the vCPU until the caller decides to:
// instructions with several pushes/pops must fault without side effects on ESP.
struct StackCursor {
  SegmentCache ss;
  uint32_t esp = 0;
  bool user = false;   // paging privilege of the accesses (CPL 3 stack)
  uint16_t fault_selector = 0;  // #SS error code on violation (0, or the new SS on a stack switch)

  static StackCursor current(const VcpuState& vcpu) {
    return {vcpu.seg[kSs], vcpu.gpr[kEsp], vcpu.cpl == 3, 0};
  }
  // The stack pointer as the B flag of SS says: SP (16 bits) or ESP.
  uint32_t sp() const { return ss.db() ? esp : esp & 0xffff; }
  void set_sp(uint32_t v) { esp = ss.db() ? v : (esp & 0xffff0000) | (v & 0xffff); }
};

// Pushes `size` (2 or 4) bytes of `value`. With `store16` a 4-byte slot is reserved but only the
// low 2 bytes are written (push Sreg and far call's CS on P6 and later, SDM vol. 2 PUSH).
Fault push(CpuEnv& env, StackCursor& stack, uint32_t value, unsigned size, bool store16 = false);
Fault pop(CpuEnv& env, StackCursor& stack, uint32_t* value, unsigned size);
// Reads at SP + offset without popping.
Fault peek(CpuEnv& env, const StackCursor& stack, uint32_t offset, uint32_t* value, unsigned size);

}  // namespace btvmm::runtime
