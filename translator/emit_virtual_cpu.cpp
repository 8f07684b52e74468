// In-TC sequences for Kind::kVirtualCpu instructions that Linux runs constantly (DESIGN.md 1:
// "cli/sti/pushf/popf become a few instructions on the virtual flags"): cli, sti, pushfd and popfd,
// and the selector stores mov r/m, Sreg and push Sreg; segment loads (emit_segment_load.cpp) and rdtsc
// (emit_rdtsc.cpp) are dispatched from here.
// The virtual IF, IOPL, TF, NT, AC, ID live in vcpu.eflags; the guest's arithmetic flags and DF stay
// in the host RFLAGS, saved and restored with pushfq/popfq on the monitor stack (never the guest's).
// Never lets guest TF or AC reach the host RFLAGS, and never changes IOPL/TF/NT/AC/ID/RF in the TC:
// a popfd that would is left to the monitor (runtime/cpu, exec_popf) before it changes anything.
#include <cstdint>

#include "translator/emit_context.h"

namespace btvmm::translator {

namespace x86 = asmjit::x86;
using runtime::kArithFlags;
using runtime::kFlagAc;
using runtime::kFlagDf;
using runtime::kFlagId;
using runtime::kFlagIf;
using runtime::kFlagIopl;
using runtime::kFlagNt;
using runtime::kFlagRf;
using runtime::kFlagTf;
using runtime::kFlagVm;

namespace {

// Flags the guest computes: the part of a popped image that goes to the host RFLAGS.
constexpr uint32_t kHostOwned = kArithFlags | kFlagDf;
// SDM vol. 2 POPF, protected mode: at CPL 0 a 32-bit popf writes IF, IOPL, TF, NT, AC, ID too, and
// clears RF. Those but IF are rare (iret paths, CPUID probing) and change how code must run (TF,
// AC); the TC handles only images that keep them.
constexpr uint32_t kMonitorOwned = kFlagIopl | kFlagTf | kFlagNt | kFlagAc | kFlagId;

// Starts running on the monitor stack with the guest's RFLAGS saved on it: [rsp] holds them.
void enter_flags_frame(EmitContext& c) {
  c.a.mov(x86::qword_ptr(x86::r15, vcpu_off::kScratch1), x86::rsp);
  c.a.mov(x86::rsp, x86::qword_ptr(x86::r15, vcpu_off::kHostRsp));
  c.a.pushfq();
}
// Restores the host RFLAGS from [rsp] (possibly rewritten) and the guest stack.
void leave_flags_frame(EmitContext& c) {
  c.a.popfq();
  c.a.mov(x86::rsp, x86::qword_ptr(x86::r15, vcpu_off::kScratch1));
}

// vcpu.eflags.IF = on. With BMI2 without touching the host RFLAGS (rorx, shlx, shrx and lea write
// no flags: SDM vol. 2), so no flags frame: bit 9 is rotated to bit 31, shifted out and back in as
// 0, set with lea if wanted, and rotated home. Without BMI2, and/or inside a flags frame.
void set_virtual_if(EmitContext& c, bool on) {
  if (!host_has_bmi2()) {
    enter_flags_frame(c);
    if (on) c.a.or_(x86::dword_ptr(x86::r15, vcpu_off::kEflags), kFlagIf);
    else c.a.and_(x86::dword_ptr(x86::r15, vcpu_off::kEflags), ~kFlagIf);
    leave_flags_frame(c);
    return;
  }
  static_assert(kFlagIf == 1u << 9);
  c.a.mov(x86::r12d, x86::dword_ptr(x86::r15, vcpu_off::kEflags));
  c.a.rorx(x86::r12d, x86::r12d, 10);
  c.a.mov(x86::r13d, 1);
  c.a.shlx(x86::r12d, x86::r12d, x86::r13d);
  c.a.shrx(x86::r12d, x86::r12d, x86::r13d);
  if (on) c.a.lea(x86::r12d, x86::ptr(x86::r12, INT32_MIN));
  c.a.rorx(x86::r12d, x86::r12d, 22);
  c.a.mov(x86::dword_ptr(x86::r15, vcpu_off::kEflags), x86::r12d);
}

// SDM vol. 2 STI and vol. 3 6.8.3: IF = 1; if IF was 0, interrupts stay inhibited until the next
// instruction has run. The successor follows in this CCF (TU formation keeps them together), then
// emit_ccf checks for a waiting interrupt (EmitContext::interrupt_check); so `sti; hlt` halts before
// the interrupt, `sti; ret` returns before it, and `sti; cli` takes none.
VcpuEmit emit_sti(EmitContext& c, const DecodedInstruction& insn) {
  set_virtual_if(c, true);
  if (!c.last_in_tu) {
    c.check_after_next = true;
    return VcpuEmit::kContinues;
  }
  // sti ends its page (or the next instruction cannot be fetched): the dispatcher enters the next
  // CCF after its attention check (vcpu.interrupt_shadow).
  c.a.mov(x86::byte_ptr(x86::r15, vcpu_off::kInterruptShadow), 1);
  c.a.jmp(c.exit_to(insn.next_eip(), runtime::TcExit::kInterrupt));
  return VcpuEmit::kEndsCcf;
}

// SDM vol. 2 PUSHF: the image has VM and RF cleared. The store comes after the stack switch back,
// and before ESP moves (fault-safe, like emit_reencode.cpp).
void emit_pushfd(EmitContext& c) {
  enter_flags_frame(c);
  c.a.mov(x86::r12d, x86::dword_ptr(x86::rsp));
  c.a.and_(x86::r12d, kHostOwned);
  c.a.mov(x86::r13d, x86::dword_ptr(x86::r15, vcpu_off::kEflags));
  c.a.and_(x86::r13d, ~(kHostOwned | kFlagVm | kFlagRf));
  c.a.or_(x86::r13d, x86::r12d);
  leave_flags_frame(c);
  c.a.mov(c.guest(x86::dword_ptr(x86::esp, -4)), x86::r13d);
  c.a.lea(x86::esp, x86::ptr(x86::esp, -4));
}

// SDM vol. 2 POPF (32-bit operand, protected mode, VM = 0). The image is read first, so a #PF or
// #SS is raised at the popfd with nothing changed. In the TC: arithmetic flags and DF from the
// image; IF from the image at CPL 0. The monitor executes it instead (exit at its EIP, nothing
// changed) when a monitor-owned flag would change, when RF is set (popf clears it), or at CPL 3 when
// IF would change (ignored unless CPL <= IOPL: the monitor knows). IF going 0 -> 1 with an interrupt
// waiting leaves for the dispatcher right after the popfd (no shadow after popf), which delivers it.
// Those cases are cold code after the body: the common path has no taken branch.
void emit_popfd(EmitContext& c, const DecodedInstruction& insn) {
  const uint32_t exit_if_changed = kMonitorOwned | (c.cpl == 0 ? 0u : kFlagIf);
  const asmjit::Label slow = c.a.newLabel();
  const asmjit::Label done = c.a.newLabel();
  // Stubs made now, not from the cold code, so that emit_ccf gives them their early-exit counters.
  const asmjit::Label to_monitor = c.exit_to(insn.eip(), runtime::TcExit::kMonitor);
  // Inside the flags frame, with r12d = the image: stores it and leaves with ESP past it.
  auto complete = [&c](bool set_if) {
    if (set_if) {
      c.a.mov(x86::r13d, x86::r12d);
      c.a.and_(x86::r13d, kFlagIf);
      c.a.and_(x86::dword_ptr(x86::r15, vcpu_off::kEflags), ~kFlagIf);
      c.a.or_(x86::dword_ptr(x86::r15, vcpu_off::kEflags), x86::r13d);
    }
    // Host RFLAGS image: the host's own bits from [rsp], the guest-computed ones from the image.
    c.a.and_(x86::r12d, kHostOwned);
    c.a.and_(x86::qword_ptr(x86::rsp), ~static_cast<int32_t>(kHostOwned));
    c.a.or_(x86::qword_ptr(x86::rsp), x86::r12);
    leave_flags_frame(c);
    c.a.lea(x86::esp, x86::ptr(x86::esp, 4));
  };
  c.a.mov(x86::r12d, c.guest(x86::dword_ptr(x86::esp)));
  enter_flags_frame(c);
  c.a.mov(x86::r13d, x86::dword_ptr(x86::r15, vcpu_off::kEflags));
  c.a.xor_(x86::r13d, x86::r12d);
  c.a.test(x86::r13d, exit_if_changed);
  c.a.jnz(slow);
  c.a.test(x86::dword_ptr(x86::r15, vcpu_off::kEflags), kFlagRf);
  c.a.jnz(slow);
  if (c.cpl == 0) {
    // r13d still holds old ^ new: IF rises where it differs and the image has it.
    const asmjit::Label rise = c.a.newLabel();
    c.a.and_(x86::r13d, x86::r12d);
    c.a.test(x86::r13d, kFlagIf);
    c.a.jnz(rise);
    complete(true);
    const asmjit::Label to_interrupt = c.exit_to(insn.next_eip(), runtime::TcExit::kInterrupt);
    c.cold([&c, rise, done, to_interrupt, complete] {
      const asmjit::Label take = c.a.newLabel();
      c.a.bind(rise);
      c.a.cmp(x86::dword_ptr(x86::r15, vcpu_off::kIrqPending), 0);
      c.a.jne(take);
      complete(true);
      c.a.jmp(done);
      c.a.bind(take);
      complete(true);
      c.a.jmp(to_interrupt);
    });
  } else {
    complete(false);
  }
  c.a.bind(done);
  c.cold([&c, slow, to_monitor] {
    c.a.bind(slow);
    leave_flags_frame(c);
    c.a.jmp(to_monitor);
  });
}

// R&I: a stored selector must be the guest's, not the host's (vcpu.seg[].selector, SegmentCache).
int32_t selector_offset(ZydisRegister r) {
  constexpr ZydisRegister kOrder[runtime::kSegCount] = {ZYDIS_REGISTER_ES, ZYDIS_REGISTER_CS, ZYDIS_REGISTER_SS,
                                                        ZYDIS_REGISTER_DS, ZYDIS_REGISTER_FS, ZYDIS_REGISTER_GS};
  for (unsigned s = 0; s < runtime::kSegCount; ++s)
    if (kOrder[s] == r)
      return static_cast<int32_t>(offsetof(runtime::VcpuState, seg) + s * sizeof(runtime::SegmentCache) +
                                  offsetof(runtime::SegmentCache, selector));
  return -1;
}

// SDM vol. 2 MOV (8C): a 32-bit register gets the selector zero-extended, a 16-bit register or
// memory gets 16 bits. No flags change.
bool emit_mov_from_sreg(EmitContext& c, const DecodedInstruction& insn) {
  const auto ops = insn.visible_operands();
  if (ops.size() != 2 || ops[1].type != ZYDIS_OPERAND_TYPE_REGISTER) return false;
  const int32_t sel = selector_offset(ops[1].reg.value);
  if (sel < 0) return false;
  if (ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER) {
    const x86::Gp dst = host_gpr(ops[0].reg.value);
    if (!dst.isValid() || (dst.size() != 4 && dst.size() != 2)) return false;
    if (dst.size() == 4) c.a.movzx(dst, x86::word_ptr(x86::r15, sel));
    else c.a.mov(dst, x86::word_ptr(x86::r15, sel));
    return true;
  }
  if (!simple_memory(insn, ops[0])) return false;
  c.a.movzx(x86::r12d, x86::word_ptr(x86::r15, sel));
  c.a.mov(guest_memory(c, insn, ops[0], 2), x86::r12w);
  return true;
}

// SDM vol. 2 PUSH Sreg with a 32-bit operand: ESP moves by 4 and, on recent processors, only the
// low 16 bits of the slot are written (runtime/cpu exec_push_sreg does the same). Store first, then
// ESP (fault-safe, like emit_reencode.cpp).
bool emit_push_sreg(EmitContext& c, const DecodedInstruction& insn) {
  if (insn.operand_width() != 32) return false;
  int32_t sel = -1;
  for (const auto& op : insn.operands())
    if (op.type == ZYDIS_OPERAND_TYPE_REGISTER && sel < 0) sel = selector_offset(op.reg.value);
  if (sel < 0) return false;
  c.a.movzx(x86::r12d, x86::word_ptr(x86::r15, sel));
  c.a.mov(c.guest(x86::word_ptr(x86::esp, -4)), x86::r12w);
  c.a.lea(x86::esp, x86::ptr(x86::esp, -4));
  return true;
}

}  // namespace

VcpuEmit emit_virtual_cpu(EmitContext& c, const DecodedInstruction& insn) {
  switch (insn.mnemonic()) {
    case ZYDIS_MNEMONIC_CLI:
      // At CPL 0, CPL <= IOPL always holds (SDM vol. 2 CLI/STI); elsewhere the monitor checks it.
      if (c.cpl != 0) return VcpuEmit::kNotEmitted;
      set_virtual_if(c, false);
      return VcpuEmit::kContinues;
    case ZYDIS_MNEMONIC_STI:
      if (c.cpl != 0) return VcpuEmit::kNotEmitted;
      return emit_sti(c, insn);
    case ZYDIS_MNEMONIC_PUSHFD:
      emit_pushfd(c);
      return VcpuEmit::kContinues;
    case ZYDIS_MNEMONIC_POPFD:
      emit_popfd(c, insn);
      return VcpuEmit::kContinues;
    case ZYDIS_MNEMONIC_MOV:
      if (insn.operands()[0].type == ZYDIS_OPERAND_TYPE_REGISTER && selector_offset(insn.operands()[0].reg.value) >= 0)
        return emit_segment_load(c, insn) ? VcpuEmit::kContinues : VcpuEmit::kNotEmitted;
      return emit_mov_from_sreg(c, insn) ? VcpuEmit::kContinues : VcpuEmit::kNotEmitted;
    case ZYDIS_MNEMONIC_PUSH:
      return emit_push_sreg(c, insn) ? VcpuEmit::kContinues : VcpuEmit::kNotEmitted;
    case ZYDIS_MNEMONIC_POP:
      return emit_segment_load(c, insn) ? VcpuEmit::kContinues : VcpuEmit::kNotEmitted;
    case ZYDIS_MNEMONIC_RDTSC:
      return emit_rdtsc(c) ? VcpuEmit::kContinues : VcpuEmit::kNotEmitted;
    default:
      return VcpuEmit::kNotEmitted;
  }
}

}  // namespace btvmm::translator
