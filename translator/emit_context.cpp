// Exit stubs, chaining jumps, the inline indirect lookup and guest operand conversion shared by
// the per-kind emitters (see emit_context.h). Every sequence here leaves the host RFLAGS (the
// guest's arithmetic flags) untouched: only mov, lea, movzx, not and jrcxz, which write no flags
// (SDM vol. 2, "Flags Affected" of each).
#include "translator/emit_context.h"

namespace btvmm::translator {

namespace x86 = asmjit::x86;
using runtime::TcExit;

asmjit::Label EmitContext::exit_to(uint32_t eip, TcExit reason) {
  Stub s{a.newLabel(), eip, reason, std::nullopt};
  stubs.push_back(s);
  return s.label;
}

void EmitContext::chain_jump(uint32_t target) {
  Slot s{a.newLabel(), a.newLabel(), target};
  a.bind(s.jmp);
  // Always the 5-byte form so the displacement can be patched to any CCF in the TC.
  a.long_().jmp(s.stub);
  stubs.push_back(Stub{s.stub, target, TcExit::kBranch, s.jmp});
  slots.push_back(s);
}

void EmitContext::chain_jcc(x86::CondCode cc, uint32_t target) {
  Slot s{a.newLabel(), a.newLabel(), target};
  a.bind(s.jmp);
  a.long_().j(cc, s.stub);
  stubs.push_back(Stub{s.stub, target, TcExit::kBranch, s.jmp});
  slots.push_back(s);
}

void EmitContext::jump_indirect_r12() {
  if (!indirect_miss.isValid()) indirect_miss = a.newLabel();
  const asmjit::Label hit = a.newLabel();
  a.movzx(x86::r13d, x86::r12w);
  a.lea(x86::r13, x86::ptr(x86::r13, x86::r13));
  a.mov(x86::r14, reinterpret_cast<uint64_t>(layout.lookup->table()));
  a.lea(x86::r13, x86::ptr(x86::r14, x86::r13, 3));  // table + index * 16
  // RCX (guest ECX) waits in r8, a scratch register (see emit_context.h), while JRCXZ tests the key.
  // (LOOP would let a hit fall through, but it is slow on Intel cores and measured no faster here.)
  a.mov(x86::r8, x86::rcx);
  a.mov(x86::rcx, x86::r12);
  a.not_(x86::rcx);  // -(eip + 1): adding the key eip + 1 gives zero on a hit
  a.mov(x86::r14, x86::qword_ptr(x86::r13));
  a.lea(x86::rcx, x86::ptr(x86::rcx, x86::r14));
  a.jecxz(x86::rcx, hit);
  a.mov(x86::rcx, x86::r8);
  a.jmp(indirect_miss);
  a.bind(hit);
  a.mov(x86::rcx, x86::r8);
  if (layout.count_executions) {
    a.mov(x86::r14, reinterpret_cast<uint64_t>(layout.lookup->hit_counter()));
    a.mov(x86::r12, x86::qword_ptr(x86::r14));
    a.lea(x86::r12, x86::ptr(x86::r12, 1));
    a.mov(x86::qword_ptr(x86::r14), x86::r12);
  }
  a.jmp(x86::qword_ptr(x86::r13, 8));
}

asmjit::Label EmitContext::entry_attention_check(uint32_t eip) {
  const asmjit::Label busy = a.newLabel();
  const asmjit::Label entry = a.newLabel();
  a.bind(busy);
  a.mov(x86::rcx, x86::r12);
  a.jmp(exit_to(eip, TcExit::kInterrupt));
  a.bind(entry);
  a.mov(x86::r12, x86::rcx);
  a.mov(x86::ecx, x86::dword_ptr(x86::r15, vcpu_off::kAttention));
  a.lea(x86::ecx, x86::ptr(x86::rcx, -1));  // attention 1 -> 0; 0 -> 0xffffffff
  a.jecxz(x86::rcx, busy);
  a.mov(x86::rcx, x86::r12);
  return entry;
}

void EmitContext::attention_check(uint32_t eip) {
  const asmjit::Label quiet = a.newLabel();
  const asmjit::Label busy = exit_to(eip, TcExit::kInterrupt);
  a.mov(x86::r12, x86::rcx);
  a.mov(x86::ecx, x86::dword_ptr(x86::r15, vcpu_off::kAttention));
  a.jecxz(x86::rcx, quiet);
  a.mov(x86::rcx, x86::r12);
  a.jmp(busy);
  a.bind(quiet);
  a.mov(x86::rcx, x86::r12);
}

void EmitContext::interrupt_check(uint32_t eip) {
  const asmjit::Label quiet = a.newLabel();
  const asmjit::Label busy = exit_to(eip, TcExit::kInterrupt);
  a.mov(x86::r12, x86::rcx);
  a.mov(x86::ecx, x86::dword_ptr(x86::r15, vcpu_off::kAttention));
  a.mov(x86::r13d, x86::dword_ptr(x86::r15, vcpu_off::kIrqPending));
  // Both are 0 or small positive values: the sum is zero only when both are.
  a.lea(x86::ecx, x86::ptr(x86::rcx, x86::r13));
  a.jecxz(x86::rcx, quiet);
  a.mov(x86::rcx, x86::r12);
  a.jmp(busy);
  a.bind(quiet);
  a.mov(x86::rcx, x86::r12);
}

void EmitContext::finish() {
  // A cold sequence may ask for stubs (exit_to), so the list is walked by index.
  for (size_t i = 0; i < cold_.size(); ++i) cold_[i]();
  for (const Stub& s : stubs) {
    a.bind(s.label);
    if (s.counter) {
      a.mov(x86::r12, reinterpret_cast<uint64_t>(s.counter));
      a.mov(x86::r13, x86::qword_ptr(x86::r12));
      a.lea(x86::r13, x86::ptr(x86::r13, 1));
      a.mov(x86::qword_ptr(x86::r12), x86::r13);
    }
    if (s.slot) {
      a.lea(x86::r12, x86::ptr(*s.slot));
      a.mov(x86::qword_ptr(x86::r15, vcpu_off::kScratch0), x86::r12);
    } else {
      a.mov(x86::qword_ptr(x86::r15, vcpu_off::kScratch0), 0);
    }
    a.mov(x86::dword_ptr(x86::r15, vcpu_off::kEip), s.eip);
    a.mov(x86::dword_ptr(x86::r15, vcpu_off::kExitReason), static_cast<uint32_t>(s.reason));
    a.jmp(asmjit::Imm(static_cast<int64_t>(layout.exit_common)));
  }
  if (indirect_miss.isValid()) {
    // The target EIP is in r12d; scratch0 = 0 tells the dispatcher this was an indirect miss.
    a.bind(indirect_miss);
    a.mov(x86::dword_ptr(x86::r15, vcpu_off::kEip), x86::r12d);
    a.mov(x86::qword_ptr(x86::r15, vcpu_off::kScratch0), 0);
    a.mov(x86::dword_ptr(x86::r15, vcpu_off::kExitReason), static_cast<uint32_t>(TcExit::kBranch));
    a.jmp(asmjit::Imm(static_cast<int64_t>(layout.exit_common)));
  }
}

bool host_has_bmi2() {
  static const bool bmi2 = asmjit::CpuInfo::host().hasFeature(asmjit::CpuFeatures::X86::kBMI2);
  return bmi2;
}

x86::Gp host_gpr(ZydisRegister r) {
  if (r >= ZYDIS_REGISTER_EAX && r <= ZYDIS_REGISTER_EDI) return x86::gpd(r - ZYDIS_REGISTER_EAX);
  if (r >= ZYDIS_REGISTER_AX && r <= ZYDIS_REGISTER_DI) return x86::gpw(r - ZYDIS_REGISTER_AX);
  if (r >= ZYDIS_REGISTER_AL && r <= ZYDIS_REGISTER_BL) return x86::gpb_lo(r - ZYDIS_REGISTER_AL);
  if (r >= ZYDIS_REGISTER_AH && r <= ZYDIS_REGISTER_BH) return x86::gpb_hi(r - ZYDIS_REGISTER_AH);
  return x86::Gp();
}

bool simple_memory(const DecodedInstruction& insn, const ZydisDecodedOperand& op) {
  return op.type == ZYDIS_OPERAND_TYPE_MEMORY && insn.address_width() == 32;
}

x86::Mem guest_memory(EmitContext& c, const DecodedInstruction& insn, const ZydisDecodedOperand& op, unsigned size,
                      int32_t extra) {
  if (op.mem.segment == ZYDIS_REGISTER_FS || op.mem.segment == ZYDIS_REGISTER_GS) {
    emit_segmented_address(c, insn, op, extra);
    x86::Mem m = x86::ptr(x86::r13d);
    m.setSize(size);
    return c.guest(m);
  }
  const int32_t disp = static_cast<int32_t>(op.mem.disp.value) + extra;
  x86::Gp base = op.mem.base == ZYDIS_REGISTER_NONE ? x86::Gp() : host_gpr(op.mem.base);
  const x86::Gp index = op.mem.index == ZYDIS_REGISTER_NONE ? x86::Gp() : host_gpr(op.mem.index);
  int32_t d = disp;
  if (!base.isValid()) {
    c.a.mov(x86::r13d, static_cast<uint32_t>(disp));
    base = x86::r13d;
    d = 0;
  }
  const unsigned shift = op.mem.scale == 8 ? 3 : op.mem.scale == 4 ? 2 : op.mem.scale == 2 ? 1 : 0;
  x86::Mem m = index.isValid() ? x86::ptr(base, index, shift, d) : x86::ptr(base, d);
  m.setSize(size);
  return c.guest(m);
}

}  // namespace btvmm::translator
