// TC entry and exit code, generated with asmjit into the TC's permanent head (see trampolines.h).
// Stack at the monitor side while translated code runs (VcpuState::host_rsp points at it):
//   [rsp] host x87 control word, [rsp+4] host MXCSR, then saved r15, r14, r13, r12, rbx, rbp,
//   return address.
#include "runtime/engine/trampolines.h"

#include <cstddef>
#include <cstring>

#include <asmjit/x86.h>

#include "core/error.h"

namespace btvmm::runtime::engine {

namespace x86 = asmjit::x86;

namespace {

constexpr int32_t off_gpr(unsigned i) { return static_cast<int32_t>(offsetof(VcpuState, gpr) + 4 * i); }
constexpr int32_t kOffEflags = offsetof(VcpuState, eflags);
constexpr int32_t kOffExit = offsetof(VcpuState, exit_reason);
constexpr int32_t kOffHostRsp = offsetof(VcpuState, host_rsp);
constexpr int32_t kOffFxsave = offsetof(VcpuState, fxsave);
// FXSAVE image (SDM vol. 1 10.5.1, table 10-2): FSW at byte 2, abridged FTW at byte 4.
constexpr int32_t kFxStatus = 2;
constexpr int32_t kFxAbridgedTag = 4;
constexpr uint32_t kFswEs = 1u << 7;  // error summary: an unmasked exception is pending
// Guest flags that live in the host RFLAGS while translated code runs (vcpu_state.h).
constexpr uint32_t kHostFlags = kArithFlags | kFlagDf;

// The monitor's own FPU/SSE state is not saved: the x86-64 psABI (3.2.1, "Registers") makes every
// x87 and SSE register caller-saved (the compiler saved whatever it needed before calling enter())
// and only the x87 control word and MXCSR's control bits callee-saved, so those two are all enter()
// must give back. That leaves one fxrstor per entry and one fxsave per exit (the guest's state).
void emit_enter(x86::Assembler& a) {
  for (const x86::Gp& r : {x86::rbp, x86::rbx, x86::r12, x86::r13, x86::r14, x86::r15}) a.push(r);
  a.sub(x86::rsp, 8);
  a.fnstcw(x86::word_ptr(x86::rsp));
  a.stmxcsr(x86::dword_ptr(x86::rsp, 4));
  a.mov(x86::r15, x86::rdi);
  a.fxrstor(x86::ptr(x86::r15, kOffFxsave));
  a.mov(x86::eax, x86::dword_ptr(x86::r15, kOffEflags));
  a.and_(x86::eax, kHostFlags);
  a.or_(x86::eax, kFlagFixed1);
  a.push(x86::rax);
  a.popfq();
  a.mov(x86::qword_ptr(x86::r15, kOffHostRsp), x86::rsp);
  a.mov(x86::r13, x86::rsi);
  for (unsigned i = 0; i < 8; ++i)
    if (i != kEsp) a.mov(x86::gpd(i), x86::dword_ptr(x86::r15, off_gpr(i)));
  // Last: from here on RSP is the guest's ESP, zero-extended by the 32-bit load.
  a.mov(x86::esp, x86::dword_ptr(x86::r15, off_gpr(kEsp)));
  a.jmp(x86::r13);
}

void emit_exit(x86::Assembler& a) {
  // mov only until RSP is the monitor's: the guest flags are still in RFLAGS.
  a.mov(x86::dword_ptr(x86::r15, off_gpr(kEsp)), x86::esp);
  a.mov(x86::rsp, x86::qword_ptr(x86::r15, kOffHostRsp));
  a.pushfq();
  for (unsigned i = 0; i < 8; ++i)
    if (i != kEsp) a.mov(x86::dword_ptr(x86::r15, off_gpr(i)), x86::gpd(i));
  a.pop(x86::rax);
  a.and_(x86::eax, kHostFlags);
  a.mov(x86::ecx, x86::dword_ptr(x86::r15, kOffEflags));
  a.and_(x86::ecx, ~kHostFlags);
  a.or_(x86::ecx, x86::eax);
  a.mov(x86::dword_ptr(x86::r15, kOffEflags), x86::ecx);
  a.cld();  // SysV ABI: DF clear on function return
  a.fxsave(x86::ptr(x86::r15, kOffFxsave));
  // The psABI wants the x87 stack empty and no exception pending at a call boundary. fxsave leaves
  // the guest's x87 state in place; only when the guest left a register in use (abridged tag byte,
  // SDM vol. 1 10.5.1.1) or an unmasked exception pending (FSW.ES) is it cleared: fnclex first,
  // because emms (which empties every tag) raises #MF while an x87 exception is pending (SDM vol.
  // 2 EMMS). Both are slow here and rarely needed.
  const asmjit::Label x87_clean = a.newLabel();
  const asmjit::Label x87_dirty = a.newLabel();
  a.cmp(x86::byte_ptr(x86::r15, kOffFxsave + kFxAbridgedTag), 0);
  a.jne(x87_dirty);
  a.test(x86::word_ptr(x86::r15, kOffFxsave + kFxStatus), kFswEs);
  a.jz(x87_clean);
  a.bind(x87_dirty);
  a.fnclex();
  a.emms();
  a.bind(x87_clean);
  a.fldcw(x86::word_ptr(x86::rsp));
  a.ldmxcsr(x86::dword_ptr(x86::rsp, 4));
  a.add(x86::rsp, 8);
  a.mov(x86::eax, x86::dword_ptr(x86::r15, kOffExit));
  for (const x86::Gp& r : {x86::r15, x86::r14, x86::r13, x86::r12, x86::rbx, x86::rbp}) a.pop(r);
  a.ret();
}

}  // namespace

Trampolines::Trampolines(translator::TcMemory& tc) {
  asmjit::CodeHolder code;
  code.init(asmjit::Environment::host());
  x86::Assembler a(&code);
  const asmjit::Label exit = a.newLabel();
  emit_enter(a);
  a.align(asmjit::AlignMode::kCode, 16);
  a.bind(exit);
  emit_exit(a);
  code.flatten();
  const size_t size = code.codeSize();
  uint8_t* at = tc.allocate_permanent(size);
  if (code.relocateToBase(reinterpret_cast<uint64_t>(at)) != asmjit::kErrorOk)
    fail(ExitCode::kInternal, "translation cache: cannot place the entry/exit trampolines");
  code.copyFlattenedData(at, size);
  enter_ = reinterpret_cast<EnterFn>(at);
  exit_common_ = reinterpret_cast<uint64_t>(at) + code.labelOffsetFromBase(exit);
}

}  // namespace btvmm::runtime::engine
