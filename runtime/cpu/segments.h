// Segment descriptors and segment registers in protected mode: descriptor fetch from the GDT/LDT
// (implicit supervisor reads), segment-register loads with every check of Intel SDM vol. 2
// MOV/POP/LDS (Sreg) and vol. 3 5.5-5.8, and LAR/LSL/VERR/VERW. Guest memory only via CpuEnv;
// a failed check never changes the vCPU.
#pragma once

#include <cstdint>

#include "runtime/cpu/descriptor.h"
#include "runtime/cpu/step_result.h"
#include "runtime/cpu_env.h"
#include "runtime/vcpu_state.h"

namespace btvmm::runtime {

// Reads the descriptor a (non-null) selector names. A selector beyond the GDT/LDT limit, or in
// an absent LDT, raises `vector` (#GP or #TS) with the selector as error code (SDM vol. 3 3.5.1).
Fault fetch_descriptor(const VcpuState& vcpu, CpuEnv& env, uint16_t selector, Descriptor* out,
                       uint8_t vector = kGp, bool ext = false);
// Writes back the high dword of a descriptor (accessed bit, busy TSS bit).
Fault store_descriptor_high(const VcpuState& vcpu, CpuEnv& env, uint16_t selector, uint32_t hi);
// Sets the accessed bit of a code/data descriptor in memory if it is clear (SDM vol. 3 3.4.5.1).
Fault mark_accessed(const VcpuState& vcpu, CpuEnv& env, uint16_t selector, Descriptor* d);

// Installs a segment cache, keeping the base mirror translated code uses in sync.
void set_segment(VcpuState& vcpu, SegReg reg, const SegmentCache& cache);

// MOV/POP/LxS to DS, ES, FS, GS or SS. Null selectors: allowed for DS/ES/FS/GS (the register
// becomes unusable), #GP(0) for SS. Without CR0.PE the real-mode rule base = selector * 16 applies.
// CS cannot be loaded this way (that is far_transfer.h).
Fault load_segment(VcpuState& vcpu, CpuEnv& env, SegReg reg, uint16_t selector);

// Checks shared by the loads of SS on privilege changes (interrupts, iret, far ret): the
// descriptor must be a present writable data segment with DPL = RPL = `cpl`. Returns the cache
// to install; errors use `vector` (#GP for returns, #TS for stack switches) and #SS(sel) when
// not present.
Fault check_stack_segment(const VcpuState& vcpu, CpuEnv& env, uint16_t selector, uint8_t cpl, uint8_t vector,
                          bool ext, SegmentCache* out);

// The stack of ring `cpl` from the current 32-bit TSS (SDM vol. 3 7.2.1: ESPn at 4 + 8n, SSn at
// 8 + 8n), checked like an SS load (#TS on errors, #SS(sel) if not present), ready to push on.
// `*unsupported` is set, with no fault, when TR holds a 16-bit TSS (not implemented).
struct StackCursor;
Fault inner_stack_from_tss(const VcpuState& vcpu, CpuEnv& env, uint8_t cpl, bool ext, StackCursor* out,
                           bool* unsupported);

// LAR/LSL/VERR/VERW (SDM vol. 2): `ok` is the resulting ZF; `value` the access rights (LAR,
// masked 0x00F0FF00) or the byte-granular limit (LSL). Only a page fault on the table read
// raises an exception.
struct SelectorCheck {
  bool ok = false;
  uint32_t value = 0;
};
Fault lar(const VcpuState& vcpu, CpuEnv& env, uint16_t selector, SelectorCheck* out);
Fault lsl(const VcpuState& vcpu, CpuEnv& env, uint16_t selector, SelectorCheck* out);
Fault verr(const VcpuState& vcpu, CpuEnv& env, uint16_t selector, SelectorCheck* out);
Fault verw(const VcpuState& vcpu, CpuEnv& env, uint16_t selector, SelectorCheck* out);

}  // namespace btvmm::runtime
