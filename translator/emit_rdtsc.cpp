// rdtsc at CPL 0 inside the TC: EDX:EAX = host TSC + vcpu.tsc_offset, as runtime/cpu exec_rdtsc
// computes it with MonitorEnv (host_tsc() is the hardware TSC). CR4.TSD restricts only CPL > 0 (SDM
// vol. 2 RDTSC), so CPL 3 stays a monitor exit. Uses only rdtsc, mov, lea and the BMI2 shifts, none of
// which writes RFLAGS: the guest's arithmetic flags survive. Never emitted without BMI2 on the host.
#include "translator/emit_context.h"

namespace btvmm::translator {

namespace x86 = asmjit::x86;

bool emit_rdtsc(EmitContext& c) {
  if (c.cpl != 0 || !c.layout.inline_rdtsc || !host_has_bmi2()) return false;
  x86::Assembler& a = c.a;
  a.rdtsc();  // zero-extends into RAX and RDX
  a.mov(x86::r12d, 32);
  a.shlx(x86::rdx, x86::rdx, x86::r12);
  a.lea(x86::rax, x86::ptr(x86::rax, x86::rdx));  // disjoint halves: the sum is the 64-bit TSC
  a.mov(x86::r12, x86::qword_ptr(x86::r15, vcpu_off::kTscOffset));
  a.lea(x86::rax, x86::ptr(x86::rax, x86::r12));  // modulo 2^64, like the monitor's addition
  a.rorx(x86::rdx, x86::rax, 32);
  a.mov(x86::eax, x86::eax);  // guest registers keep their upper halves zero (DESIGN.md 3)
  a.mov(x86::edx, x86::edx);
  const int32_t counter = vcpu_off::kSegLoads + offsetof(runtime::SegmentLoadCache, inline_rdtsc);
  a.mov(x86::r12, x86::qword_ptr(x86::r15, counter));
  a.lea(x86::r12, x86::ptr(x86::r12, 1));
  a.mov(x86::qword_ptr(x86::r15, counter), x86::r12);
  return true;
}

}  // namespace btvmm::translator
