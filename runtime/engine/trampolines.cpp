// TC entry and exit code, generated with asmjit into the TC's permanent head (see trampolines.h).
// Stack at the monitor side while translated code runs (VcpuState::host_rsp points at it):
//   [rsp] host_fpu pointer, then saved r15, r14, r13, r12, rbx, rbp, return address.
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
// Guest flags that live in the host RFLAGS while translated code runs (vcpu_state.h).
constexpr uint32_t kHostFlags = kArithFlags | kFlagDf;

void emit_enter(x86::Assembler& a) {
  for (const x86::Gp& r : {x86::rbp, x86::rbx, x86::r12, x86::r13, x86::r14, x86::r15}) a.push(r);
  a.push(x86::rdx);
  a.mov(x86::r15, x86::rdi);
  a.fxsave(x86::ptr(x86::rdx));
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
  a.pop(x86::rdx);
  a.fxrstor(x86::ptr(x86::rdx));
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
