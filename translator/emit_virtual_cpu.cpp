// In-TC sequences for Kind::kVirtualCpu instructions that Linux runs constantly (DESIGN.md 1:
// "cli/sti/pushf/popf become a few instructions on the virtual flags"): cli, sti and pushfd at
// CPL 0, where no IOPL check applies (SDM vol. 2 CLI/STI: CPL <= IOPL always holds at CPL 0).
// The virtual IF lives in vcpu.eflags; the guest's arithmetic flags stay in the host RFLAGS, which
// these sequences save and restore with pushfq/popfq on the monitor stack (never the guest's).
// popf and everything else remain monitor exits.
#include "translator/emit_context.h"

namespace btvmm::translator {

namespace x86 = asmjit::x86;
using runtime::kArithFlags;
using runtime::kFlagDf;
using runtime::kFlagIf;
using runtime::kFlagRf;
using runtime::kFlagVm;

namespace {

constexpr int32_t kOffEflags = offsetof(runtime::VcpuState, eflags);
constexpr int32_t kOffHostRsp = offsetof(runtime::VcpuState, host_rsp);
constexpr int32_t kOffShadow = offsetof(runtime::VcpuState, interrupt_shadow);

// Runs `body` on the monitor stack with the guest's RFLAGS saved on it: [rsp] holds them.
template <typename Body>
void with_flags_saved(EmitContext& c, Body body) {
  c.a.mov(x86::qword_ptr(x86::r15, vcpu_off::kScratch1), x86::rsp);
  c.a.mov(x86::rsp, x86::qword_ptr(x86::r15, kOffHostRsp));
  c.a.pushfq();
  body();
  c.a.popfq();
  c.a.mov(x86::rsp, x86::qword_ptr(x86::r15, vcpu_off::kScratch1));
}

}  // namespace

bool emit_virtual_cpu(EmitContext& c, const DecodedInstruction& insn) {
  if (c.cpl != 0) return false;
  switch (insn.mnemonic()) {
    case ZYDIS_MNEMONIC_CLI:
      with_flags_saved(c, [&] { c.a.and_(x86::dword_ptr(x86::r15, kOffEflags), ~kFlagIf); });
      return true;
    case ZYDIS_MNEMONIC_STI:
      // IF = 1, and the next instruction runs in the interrupt shadow (SDM vol. 2 STI); the
      // dispatcher must look for a pending interrupt, so this always leaves the TC.
      with_flags_saved(c, [&] { c.a.or_(x86::dword_ptr(x86::r15, kOffEflags), kFlagIf); });
      c.a.mov(x86::byte_ptr(x86::r15, kOffShadow), 1);
      c.a.jmp(c.exit_to(insn.next_eip(), runtime::TcExit::kInterrupt));
      return true;
    case ZYDIS_MNEMONIC_PUSHFD:
      // SDM vol. 2 PUSHF: the image has VM and RF cleared. The store comes after the stack switch
      // back, and before ESP moves (fault-safe, like emit_reencode.cpp).
      with_flags_saved(c, [&] {
        c.a.mov(x86::r12d, x86::dword_ptr(x86::rsp));
        c.a.and_(x86::r12d, kArithFlags | kFlagDf);
        c.a.mov(x86::r13d, x86::dword_ptr(x86::r15, kOffEflags));
        c.a.and_(x86::r13d, ~(kArithFlags | kFlagDf | kFlagVm | kFlagRf));
        c.a.or_(x86::r13d, x86::r12d);
      });
      c.a.mov(x86::dword_ptr(x86::esp, -4), x86::r13d);
      c.a.lea(x86::esp, x86::ptr(x86::esp, -4));
      return true;
    default:
      return false;
  }
}

}  // namespace btvmm::translator
