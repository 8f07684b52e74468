// Shared state of one CCF being emitted (internal to translator/emit_*.cpp): the assembler, the
// exits the body asks for (emitted after it), chaining slots, and helpers that turn guest operands
// into host operands with 32-bit address size. Never decides an instruction's kind (classify.h).
#pragma once

#include <cstddef>
#include <cstdint>
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
};

// Offsets into VcpuState that emitted code uses through R15 (vcpu_state.h: the TC ABI).
namespace vcpu_off {
inline constexpr int32_t kEip = offsetof(runtime::VcpuState, eip);
inline constexpr int32_t kExitReason = offsetof(runtime::VcpuState, exit_reason);
inline constexpr int32_t kAttention = offsetof(runtime::VcpuState, attention);
inline constexpr int32_t kScratch0 = offsetof(runtime::VcpuState, host_scratch);
inline constexpr int32_t kScratch1 = offsetof(runtime::VcpuState, host_scratch) + 8;
}  // namespace vcpu_off

class EmitContext {
 public:
  EmitContext(asmjit::x86::Assembler& a, const TcLayout& layout) : a(a), layout(layout) {}

  asmjit::x86::Assembler& a;
  const TcLayout& layout;
  uint8_t cpl = 0;  // the CPL this CCF is translated for (CcfKey)

  // A stub (emitted after the body) that stores eip and reason into the vCPU and jumps to the
  // exit path. Stores only: the guest's flags stay intact.
  asmjit::Label exit_to(uint32_t eip, runtime::TcExit reason);
  // A 5-byte `jmp rel32` to a kBranch exit for `target`, later patchable to chain (ccf.h).
  void chain_jump(uint32_t target);
  // Indirect transfer to the guest EIP held in r12d: inline table lookup, dispatcher on a miss.
  void jump_indirect_r12();

  // Emits every stub; call once after the body.
  void finish();

  struct Stub {
    asmjit::Label label;
    uint32_t eip;
    runtime::TcExit reason;
    std::optional<asmjit::Label> slot;  // the chaining jmp this stub serves
  };
  struct Slot {
    asmjit::Label jmp;
    asmjit::Label stub;
    uint32_t target;
  };
  std::vector<Stub> stubs;
  std::vector<Slot> slots;
  asmjit::Label indirect_miss;  // valid once jump_indirect_r12 ran
};

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
bool emit_virtual_cpu(EmitContext& c, const DecodedInstruction& insn);

}  // namespace btvmm::translator
