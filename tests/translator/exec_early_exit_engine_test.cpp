// Executed-instruction counters (translator/exec_profile.h) for CCF runs that leave before their
// last instruction: a guest fault, an access the monitor emulates, a popfd the monitor finishes, an
// interrupt taken after an sti shadow, a store into the CCF's own code. Each test counts by hand
// which guest instructions really completed and where, in the engine's test machine.
#include <catch2/catch.hpp>

#include "core/stats.h"
#include "tests/engine/engine_fixture.h"

using namespace btvmm;
using namespace btvmm::engine_test;
namespace x86 = asmjit::x86;

namespace {


}  // namespace

TEST_CASE("exec_counters_leave_out_the_faulting_instruction_and_those_after_it", "[exec]") {
  stats::reset_all();
  {
    Machine m;
    m.code(kCode, [](x86::Assembler& a) {
      a.mov(x86::eax, 10);
      a.xor_(x86::edx, x86::edx);
      a.xor_(x86::ecx, x86::ecx);
      a.div(x86::ecx);  // #DE: the handler is a hlt
      a.add(x86::eax, 1);
      a.add(x86::eax, 1);
      a.hlt();
    });
    REQUIRE(m.run());
    REQUIRE(m.halted_in_handler(kDe));
  }
  // mov, xor, xor in the TC, then the handler's hlt in the monitor.
  CHECK(stats::value_of("exec.cpl0.ident") == 3);
  CHECK(stats::value_of("exec.cpl0.monitor") == 1);
  CHECK(stats::value_of("exec.cpl0.instructions") == 4);
  CHECK(stats::value_of("exec.callouts.hlt") == 1);
  CHECK(stats::value_of("exec.ccf_runs") == 2);
}

TEST_CASE("exec_counters_count_an_emulated_access_as_monitor_work_and_not_what_follows", "[exec]") {
  stats::reset_all();
  {
    Machine m;
    m.code(kCode, [](x86::Assembler& a) {
      a.mov(x86::ebx, 5);
      a.mov(x86::eax, x86::dword_ptr(x86::ebx, 0x2000000 - 5));  // past RAM: the monitor emulates it
      a.add(x86::ecx, 1);
      a.out(0x80, x86::al);
      a.hlt();
    });
    REQUIRE(m.run());
    REQUIRE(m.vcpu.gpr[kEax] == 0xffffffff);
  }
  // First CCF: mov ebx in the TC, the load emulated. The dispatcher resumes at the add (a CCF of
  // add + out), then the hlt's CCF.
  CHECK(stats::value_of("traps.emulate") == 1);
  CHECK(stats::value_of("exec.cpl0.ident") == 2);    // mov ebx, add
  CHECK(stats::value_of("exec.cpl0.monitor") == 3);  // the emulated load, out, hlt
  CHECK(stats::value_of("exec.cpl0.instructions") == 5);
  CHECK(stats::value_of("exec.callouts.io") == 1);
  CHECK(stats::value_of("exec.callouts.hlt") == 1);
}

TEST_CASE("exec_counters_count_a_popfd_the_monitor_finishes_as_a_flags_callout", "[exec]") {
  stats::reset_all();
  {
    Machine m;
    m.code(kCode, [](x86::Assembler& a) {
      a.push(kFlagFixed1 | kFlagIopl);  // IOPL changes: the monitor executes the popfd
      a.popfd();
      a.mov(x86::ebx, 1);
      a.hlt();
    });
    REQUIRE(m.run());
    REQUIRE((m.vcpu.eflags & kFlagIopl) == kFlagIopl);
  }
  CHECK(stats::value_of("exec.cpl0.reencode") == 1);  // push imm32
  CHECK(stats::value_of("exec.cpl0.virtual_cpu") == 0);
  CHECK(stats::value_of("exec.cpl0.ident") == 1);     // mov ebx, once (in the CCF the dispatcher starts there)
  CHECK(stats::value_of("exec.cpl0.monitor") == 2);   // popfd, hlt
  CHECK(stats::value_of("exec.cpl0.instructions") == 4);
  CHECK(stats::value_of("exec.callouts.flags") == 1);
  CHECK(stats::value_of("exec.callouts.hlt") == 1);
}

TEST_CASE("exec_counters_stop_at_an_interrupt_taken_after_the_sti_shadow", "[exec]") {
  stats::reset_all();
  {
    Machine m;
    m.host.pending = 31;
    m.code(kCode, [](x86::Assembler& a) {
      a.mov(x86::eax, 1);
      a.sti();
      a.mov(x86::ebx, 2);  // in the sti shadow: runs before the interrupt
      a.mov(x86::ecx, 3);  // not reached: the interrupt is taken first
      a.hlt();
    });
    REQUIRE(m.run());
    REQUIRE(m.halted_in_handler(31));
    REQUIRE(m.vcpu.gpr[kEcx] == 0);
  }
  CHECK(stats::value_of("exec.cpl0.ident") == 2);  // mov eax, mov ebx
  CHECK(stats::value_of("exec.cpl0.virtual_cpu") == 1);
  CHECK(stats::value_of("exec.cpl0.monitor") == 1);  // the handler's hlt
  CHECK(stats::value_of("exec.cpl0.instructions") == 4);
  CHECK(stats::value_of("exec.callouts.hlt") == 1);
}

TEST_CASE("exec_counters_stop_after_a_store_that_invalidates_its_own_ccf", "[exec]") {
  stats::reset_all();
  {
    Machine m;
    uint32_t mov_at = 0;
    m.code(kCode, [&](x86::Assembler& a) {
      a.mov(x86::edi, kCode + 9);  // the immediate of the mov eax below (5 + 3 + 1 bytes in)
      a.mov(x86::byte_ptr(x86::edi), 2);
      mov_at = kCode + static_cast<uint32_t>(a.offset());
      a.mov(x86::eax, 1);  // becomes mov eax, 2 before it runs
      a.hlt();
    });
    REQUIRE(mov_at + 1 == kCode + 9);
    REQUIRE(m.run());
    REQUIRE(m.vcpu.gpr[kEax] == 2);
  }
  // mov edi and the store in the first CCF, which leaves; mov eax and hlt from the new one.
  CHECK(stats::value_of("exec.cpl0.ident") == 3);
  CHECK(stats::value_of("exec.cpl0.monitor") == 1);
  CHECK(stats::value_of("exec.cpl0.instructions") == 4);
  CHECK(stats::value_of("exec.callouts.hlt") == 1);
}
