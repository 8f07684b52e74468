// Shared state of one CCF being emitted (internal to translator/emit_*.cpp): the assembler, the
// exits the body asks for (emitted after it), chaining slots, and helpers that turn guest operands
// into host operands with 32-bit address size. Never decides an instruction's kind (classify.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <unordered_set>
#include <vector>

#include <asmjit/x86.h>

#include "runtime/vcpu_state.h"
#include "translator/decode.h"
#include "translator/tc_lookup.h"

namespace btvmm::translator {

// Addresses of permanent TC code and tables every CCF jumps to or reads.
struct TcLayout {
  uint64_t exit_common = 0;  // saves guest state and returns vcpu.exit_reason to enter_tc's caller
  TcLookup* lookup = nullptr;
  // Guest EIPs retranslated as monitor exits because they kept trapping on traced pages
  // (adaptive retranslation, IDENT -> SIMULATE, Adams & Agesen figure 1). May be null.
  const std::unordered_set<uint32_t>* simulate = nullptr;
  // Each CCF counts its runs (exec_profile.h: executed-instruction counters for --stats).
  bool count_executions = true;
  // Host address of guest linear 0 in the user window: CPL 3 CCFs address guest memory through
  // the host GS segment, whose base the engine sets to this (DESIGN.md 2).
  uint64_t user_base = 0;
  // rdtsc at CPL 0 reads the host TSC in the TC (emit_rdtsc.cpp): only when the CpuEnv's host_tsc()
  // is the hardware TSC, as MonitorEnv's is (test environments return their own values).
  bool inline_rdtsc = false;
};

// Offsets into VcpuState that emitted code uses through R15 (vcpu_state.h: the TC ABI).
namespace vcpu_off {
inline constexpr int32_t kEip = offsetof(runtime::VcpuState, eip);
inline constexpr int32_t kExitReason = offsetof(runtime::VcpuState, exit_reason);
inline constexpr int32_t kAttention = offsetof(runtime::VcpuState, attention);
inline constexpr int32_t kEflags = offsetof(runtime::VcpuState, eflags);
inline constexpr int32_t kHostRsp = offsetof(runtime::VcpuState, host_rsp);
inline constexpr int32_t kInterruptShadow = offsetof(runtime::VcpuState, interrupt_shadow);
inline constexpr int32_t kIrqPending = offsetof(runtime::VcpuState, irq_pending);
inline constexpr int32_t kScratch0 = offsetof(runtime::VcpuState, host_scratch);
inline constexpr int32_t kScratch1 = offsetof(runtime::VcpuState, host_scratch) + 8;
inline constexpr int32_t kTscOffset = offsetof(runtime::VcpuState, tsc_offset);
inline constexpr int32_t kSegLoads = offsetof(runtime::VcpuState, seg_loads);
}  // namespace vcpu_off

// Host R8-R11 are never guest state and are caller-saved for the monitor (x86-64 psABI 3.2.1): an
// instruction's sequence may use them as scratch (emit_segment_load.cpp), never across instructions.

class EmitContext {
 public:
  EmitContext(asmjit::x86::Assembler& a, const TcLayout& layout) : a(a), layout(layout) {}

  asmjit::x86::Assembler& a;
  const TcLayout& layout;
  uint8_t cpl = 0;  // the CPL this CCF is translated for (CcfKey)
  // Set by emit_user_string: the instruction just emitted runs with RSI/RDI holding host addresses
  // in the user window (EmittedRange::based_rsi_rdi). emit_ccf reads and clears it.
  bool based_rsi_rdi = false;

  // A host operand for a guest memory access: at CPL 3 it goes through GS into the user window,
  // which maps only what user code may touch (DESIGN.md 2); below CPL 3 into the supervisor window.
  asmjit::x86::Mem guest(asmjit::x86::Mem m) const {
    if (cpl == 3) m.setSegment(asmjit::x86::gs);
    return m;
  }
  // The instruction being emitted is the TU's last (sti then cannot keep its successor in this CCF).
  bool last_in_tu = false;
  // Set by an in-TC sti: after the next instruction, look for a waiting interrupt (interrupt_check),
  // so one that sti made deliverable is taken right after the one-instruction shadow (SDM vol. 3
  // 6.8.3), unless that instruction cleared IF again (cli: then there is nothing to take).
  bool check_after_next = false;

  // A stub (emitted after the body) that stores eip and reason into the vCPU and jumps to the
  // exit path. Stores only: the guest's flags stay intact.
  asmjit::Label exit_to(uint32_t eip, runtime::TcExit reason);
  // A 5-byte `jmp rel32` to a kBranch exit for `target`, later patchable to chain (ccf.h).
  void chain_jump(uint32_t target);
  // The same as a 6-byte `jcc rel32`: taken when `cc` holds, falls through otherwise.
  void chain_jcc(asmjit::x86::CondCode cc, uint32_t target);
  // Indirect transfer to the guest EIP held in r12d: inline table lookup, dispatcher on a miss.
  void jump_indirect_r12();

  // A CCF's entry: exits with TcExit::kInterrupt at `eip` when vcpu.attention is set. Emitted first;
  // returns the entry label, which follows the check's exit so that the check's branch (a jrcxz
  // back to it) is not taken while attention is clear. Flag-free; RCX's upper half is zero in the
  // TC, attention is 0 or 1 (vcpu_state.h); clobbers r12.
  asmjit::Label entry_attention_check(uint32_t eip);
  // The same test in the middle of a CCF (after popfd), with a taken jrcxz while quiet.
  void attention_check(uint32_t eip);
  // The same, but also exits when vcpu.irq_pending is set: for a point where IF is known to be 1
  // (after the instruction in an sti shadow). Flag-free, clobbers r12 and r13.
  void interrupt_check(uint32_t eip);

  // Code for a rare case, emitted after the body (before the stubs) so that the common path falls
  // through: `emit` runs at finish() and binds nothing the body still needs.
  void cold(std::function<void()> emit) { cold_.push_back(std::move(emit)); }

  // Emits the cold code and every stub; call once after the body.
  void finish();

  struct Stub {
    asmjit::Label label;
    uint32_t eip;
    runtime::TcExit reason;
    std::optional<asmjit::Label> slot;  // the chaining jmp this stub serves
    // Incremented (flag-free, clobbers r12 and r13) by a stub that ends a run early (exec_profile.h).
    uint64_t* counter = nullptr;
  };
  struct Slot {
    asmjit::Label jmp;
    asmjit::Label stub;
    uint32_t target;
  };
  std::vector<Stub> stubs;
  std::vector<Slot> slots;
  asmjit::Label indirect_miss;  // valid once jump_indirect_r12 ran

 private:
  std::vector<std::function<void()>> cold_;
};

// Whether the host has BMI2 (shlx/shrx/rorx: shifts that write no flags). Sequences that need it are
// left to the monitor without it.
bool host_has_bmi2();

// Host register for a Zydis 32/16/8-bit GPR of the guest (same encoding number).
asmjit::x86::Gp host_gpr(ZydisRegister r);

// Host memory operand for a guest memory operand with 32-bit addressing (the caller checks
// simple_memory()). An absolute or index-only address is built in r13d first (64-bit mode
// has no [disp32] without RIP or SIB tricks that asmjit would not choose). `extra` is added to the
// displacement (pop [esp+n] addresses with the incremented ESP, SDM vol. 2 POP).
// An FS/GS operand is computed into r13d with the segment base added (emit_segment.cpp).
asmjit::x86::Mem guest_memory(EmitContext& c, const DecodedInstruction& insn, const ZydisDecodedOperand& op,
                              unsigned size, int32_t extra = 0);
bool simple_memory(const DecodedInstruction& insn, const ZydisDecodedOperand& op);
// r13d = segment base + effective address (+ extra), wrapped to 32 bits; flags untouched.
void emit_segmented_address(EmitContext& c, const DecodedInstruction& insn, const ZydisDecodedOperand& op,
                            int32_t extra);

// Per-kind emitters (emit_reencode.cpp, emit_branch.cpp). Each returns false if it cannot emit
// this form; the caller then makes it a monitor exit.
bool emit_reencode(EmitContext& c, const DecodedInstruction& insn);
bool emit_branch_direct(EmitContext& c, const DecodedInstruction& insn);
bool emit_branch_indirect(EmitContext& c, const DecodedInstruction& insn);
bool emit_return(EmitContext& c, const DecodedInstruction& insn);
bool emit_segment_override(EmitContext& c, const DecodedInstruction& insn);
// A string instruction at CPL 3 (emit_user_string.cpp): ES:EDI cannot take a GS override.
bool emit_user_string(EmitContext& c, const DecodedInstruction& insn);

// What emit_virtual_cpu did with an instruction.
enum class VcpuEmit : uint8_t {
  kNotEmitted,  // not this form or not at this CPL: the caller makes it a monitor exit
  kContinues,   // in-TC sequence; the CCF goes on with the next instruction
  kEndsCcf,     // in-TC sequence that ends with an exit (sti as the TU's last instruction)
};
VcpuEmit emit_virtual_cpu(EmitContext& c, const DecodedInstruction& insn);
// mov Sreg, r/m16 and pop Sreg for DS/ES/FS/GS at CPL 0 from the vCPU's segment-load cache, with a
// monitor exit on a miss (emit_segment_load.cpp); false when this form is left to the monitor.
bool emit_segment_load(EmitContext& c, const DecodedInstruction& insn);
// rdtsc at CPL 0 (emit_rdtsc.cpp); false when it is left to the monitor.
bool emit_rdtsc(EmitContext& c);

}  // namespace btvmm::translator
