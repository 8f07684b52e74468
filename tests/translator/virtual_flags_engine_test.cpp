// End-to-end tests of the in-TC cli/sti/pushfd/popfd sequences (translator/emit_virtual_cpu.cpp)
// in the engine's test machine (tests/engine/engine_fixture.h): flags popfd must keep or leave to
// the monitor, the IOPL/IF rules at CPL 3, and the one-instruction sti shadow (SDM vol. 3 6.8.3),
// plus the executed-instruction counters every CCF keeps (translator/exec_profile.h).
#include <catch2/catch.hpp>

#include "core/stats.h"
#include "tests/engine/engine_fixture.h"

using namespace btvmm;
using namespace btvmm::engine_test;
namespace x86 = asmjit::x86;

namespace {


constexpr uint32_t kTss = 0x4000;
constexpr uint32_t kRing0Stack = 0x70000;
constexpr uint8_t kIrq = 31;  // within the fixture's 32-entry IDT

// Ring 3 code and data (DPL 3, flat) and a TSS whose ESP0 the CPU uses to enter the ring-0 handler.
void enter_ring3(Machine& m) {
  const uint64_t gdt[5] = {0, 0x00CF9B000000FFFFull, 0x00CF93000000FFFFull, 0x00CFFB000000FFFFull,
                           0x00CFF3000000FFFFull};
  m.mem.write(GuestPhysAddr(kGdt), gdt, sizeof gdt);
  m.vcpu.gdtr = {kGdt, sizeof gdt - 1};
  m.write32(kTss + 4, kRing0Stack);  // ESP0 (SDM vol. 3 7.2.1, figure 7-2)
  m.write32(kTss + 8, 0x10);         // SS0
  m.vcpu.tr = SegmentCache{0x28, 0x8B, kTss, 0x67};
  for (unsigned s = 0; s < kSegCount; ++s) {
    const bool cs = s == kCs;
    m.vcpu.seg[s] = SegmentCache{static_cast<uint16_t>(cs ? 0x1b : 0x23), cs ? 0xC0FBu : 0xC0F3u, 0, 0xffffffff};
  }
  m.vcpu.cpl = 3;
}

// Ends a test program with the state of the flags in ebx, through pushfd.
void pushfd_into_ebx(x86::Assembler& a) {
  a.pushfd();
  a.pop(x86::ebx);
}

}  // namespace

TEST_CASE("popfd_in_the_tc_restores_every_arithmetic_flag_and_df", "[virtual_flags]") {
  const uint32_t arith = kFlagCf | kFlagPf | kFlagAf | kFlagZf | kFlagSf | kFlagOf | kFlagDf;
  const uint32_t images[] = {arith, 0, kFlagCf | kFlagZf | kFlagDf, kFlagPf | kFlagAf | kFlagSf | kFlagOf};
  for (uint32_t image : images) {
    stats::reset_all();
    Machine m;
    m.code(kCode, [&](x86::Assembler& a) {
      a.push(image | kFlagFixed1);
      a.popfd();
      a.lahf();       // copied as IDENT: reads SF ZF AF PF CF straight from the host flags
      a.seto(x86::cl);
      a.mov(x86::edx, x86::eax);
      pushfd_into_ebx(a);
      a.cld();
      a.hlt();
    });
    REQUIRE(m.run());
    INFO("image " << std::hex << image);
    CHECK((m.vcpu.gpr[kEbx] & arith) == image);
    const uint32_t ah = (m.vcpu.gpr[kEdx] >> 8) & 0xff;
    CHECK((ah & (kFlagCf | kFlagPf | kFlagAf | kFlagZf | kFlagSf)) == (image & 0xd5));
    CHECK((m.vcpu.gpr[kEcx] & 0xff) == ((image & kFlagOf) ? 1u : 0u));
    CHECK(stats::value_of("tc.exits_monitor") == 1);  // only the hlt: popfd stayed in the TC
  }
}

TEST_CASE("popfd_at_cpl0_sets_and_clears_if_in_the_tc", "[virtual_flags]") {
  stats::reset_all();
  Machine m;
  m.code(kCode, [](x86::Assembler& a) {
    a.push(kFlagFixed1 | kFlagIf);
    a.popfd();
    a.pushfd();
    a.pop(x86::ecx);
    a.push(kFlagFixed1);
    a.popfd();
    pushfd_into_ebx(a);
    a.hlt();
  });
  REQUIRE(m.run());
  CHECK((m.vcpu.gpr[kEcx] & kFlagIf) != 0);
  CHECK((m.vcpu.gpr[kEbx] & kFlagIf) == 0);
  CHECK((m.vcpu.eflags & kFlagIf) == 0);
  CHECK(stats::value_of("tc.exits_monitor") == 1);
}

TEST_CASE("popfd_that_changes_iopl_tf_nt_ac_or_id_is_done_by_the_monitor", "[virtual_flags]") {
  for (uint32_t flag : {kFlagIopl, kFlagNt, kFlagAc, kFlagId}) {
    stats::reset_all();
    Machine m;
    m.code(kCode, [&](x86::Assembler& a) {
      a.push(kFlagFixed1 | kFlagCf | flag);
      a.popfd();
      pushfd_into_ebx(a);
      a.hlt();
    });
    REQUIRE(m.run());
    INFO("flag " << std::hex << flag);
    CHECK((m.vcpu.eflags & flag) == flag);
    CHECK((m.vcpu.gpr[kEbx] & (flag | kFlagCf)) == (flag | kFlagCf));
    CHECK(stats::value_of("tc.exits_monitor") == 2);  // the popfd and the hlt
  }
}

TEST_CASE("popfd_at_cpl3_leaves_iopl_and_if_unchanged", "[virtual_flags]") {
  stats::reset_all();
  Machine m;
  enter_ring3(m);
  m.vcpu.eflags = kFlagFixed1 | kFlagIf;  // IOPL 0: CPL 3 may change neither IF nor IOPL
  m.code(kCode, [](x86::Assembler& a) {
    a.push(kFlagFixed1 | kFlagIopl | kFlagCf);  // IOPL 3, IF 0
    a.popfd();
    pushfd_into_ebx(a);
    a.push(kFlagFixed1 | kFlagIf | kFlagZf);  // only arithmetic flags change: stays in the TC
    a.popfd();
    a.pushfd();
    a.pop(x86::ecx);
    a.hlt();  // #GP at CPL 3: ends the test in the ring-0 handler
  });
  REQUIRE(m.run());
  REQUIRE(m.halted_in_handler(13));
  CHECK((m.vcpu.gpr[kEbx] & kFlagIopl) == 0);
  CHECK((m.vcpu.gpr[kEbx] & kFlagIf) == kFlagIf);
  CHECK((m.vcpu.gpr[kEbx] & kFlagCf) == kFlagCf);
  CHECK((m.vcpu.gpr[kEcx] & (kFlagIf | kFlagZf | kFlagCf)) == (kFlagIf | kFlagZf));
  CHECK(stats::value_of("tc.exits_monitor") == 3);  // the IOPL popfd, the ring-3 hlt, the handler's hlt
}

TEST_CASE("sti_takes_a_pending_interrupt_right_after_the_next_instruction_and_not_before", "[virtual_flags]") {
  Machine m;
  m.host.pending = kIrq;
  asmjit::Label after_shadow;
  m.code(kCode, [&](x86::Assembler& a) {
    a.mov(x86::eax, 1);
    a.sti();
    a.mov(x86::ebx, 2);  // the sti shadow
    after_shadow = a.newLabel();
    a.bind(after_shadow);
    a.mov(x86::ecx, 3);
    a.hlt();
  });
  REQUIRE(m.run());
  REQUIRE(m.halted_in_handler(kIrq));
  CHECK(m.vcpu.gpr[kEbx] == 2);
  CHECK(m.vcpu.gpr[kEcx] != 3);
  CHECK(m.stack(0) == kCode + 5 + 1 + 5);  // return EIP: the mov ecx after the shadow
}

TEST_CASE("sti_hlt_halts_before_the_pending_interrupt_is_taken", "[virtual_flags]") {
  Machine m;
  m.host.pending = kIrq;
  m.code(kCode, [](x86::Assembler& a) {
    a.sti();
    a.hlt();
    a.mov(x86::ebx, 5);
    a.hlt();
  });
  REQUIRE(m.run());
  REQUIRE(m.halted_in_handler(kIrq));
  CHECK(m.stack(0) == kCode + 2);  // after the hlt: the interrupt woke it
  CHECK(m.vcpu.gpr[kEbx] != 5);
}

TEST_CASE("sti_ret_returns_before_the_pending_interrupt_is_taken", "[virtual_flags]") {
  Machine m;
  m.host.pending = kIrq;
  const uint32_t callee = kCode + 0x100;
  m.code(callee, [](x86::Assembler& a) {
    a.sti();
    a.ret();
  });
  m.code(kCode, [&](x86::Assembler& a) {
    a.mov(x86::esi, callee);
    a.call(x86::esi);  // 2 bytes at kCode + 5
    a.mov(x86::ecx, 3);
    a.hlt();
  });
  REQUIRE(m.run());
  REQUIRE(m.halted_in_handler(kIrq));
  CHECK(m.stack(0) == kCode + 7);  // the ret ran in the shadow; the interrupt came before mov ecx
  CHECK(m.vcpu.gpr[kEcx] != 3);
}

TEST_CASE("popfd_that_sets_if_takes_a_pending_interrupt_before_the_next_instruction", "[virtual_flags]") {
  Machine m;
  m.host.pending = kIrq;
  m.code(kCode, [](x86::Assembler& a) {
    a.push(kFlagFixed1 | kFlagIf);  // 5 bytes
    a.popfd();                      // 1 byte: no shadow after popf
    a.mov(x86::ebx, 2);
    a.hlt();
  });
  REQUIRE(m.run());
  REQUIRE(m.halted_in_handler(kIrq));
  CHECK(m.stack(0) == kCode + 6);
  CHECK(m.vcpu.gpr[kEbx] != 2);
}

TEST_CASE("sti_cli_with_an_interrupt_waiting_neither_takes_it_nor_leaves_the_tc", "[virtual_flags]") {
  stats::reset_all();
  Machine m;
  m.host.pending = kIrq;  // the cli in the sti shadow closes the window: SDM vol. 3 6.8.3
  m.code(kCode, [](x86::Assembler& a) {
    asmjit::Label loop = a.newLabel();
    a.mov(x86::ecx, 1000);
    a.bind(loop);
    a.sti();
    a.cli();
    a.pushfd();
    a.popfd();
    a.loop(loop);
    a.hlt();
  });
  REQUIRE(m.run());
  CHECK_FALSE(m.halted_in_handler(kIrq));
  CHECK(m.host.pending.has_value());
  CHECK(m.vcpu.gpr[kEcx] == 0);
  CHECK(stats::value_of("tc.exits_monitor") == 1);
  CHECK(stats::value_of("tc.exits_interrupt") == 0);
}

TEST_CASE("executed_instruction_counters_fold_runs_times_instructions_by_kind", "[virtual_flags]") {
  stats::reset_all();
  {
    Machine m;
    m.code(kCode, [](x86::Assembler& a) {
      asmjit::Label loop = a.newLabel();
      a.mov(x86::ecx, 100);
      a.bind(loop);
      a.add(x86::eax, 1);                      // ident
      a.mov(x86::dword_ptr(kData), x86::eax);  // ident+addr32
      a.cli();                                 // virtual cpu
      a.loop(loop);                            // direct branch
      a.out(0x80, x86::al);                    // monitor
      a.hlt();
    });
    REQUIRE(m.run());
    REQUIRE(m.vcpu.gpr[kEax] == 100);
  }  // the engine and its CCFs are gone: their counts are folded
  CHECK(stats::value_of("exec.cpl0.ident") == 1 + 2 * 100);
  CHECK(stats::value_of("exec.cpl0.virtual_cpu") == 100);
  CHECK(stats::value_of("exec.cpl0.branch_direct") == 100);
  CHECK(stats::value_of("exec.cpl0.monitor") == 2);
  CHECK(stats::value_of("exec.callouts.io") == 1);
  CHECK(stats::value_of("exec.callouts.hlt") == 1);
  CHECK(stats::value_of("exec.cpl0.instructions") == 1 + 4 * 100 + 2);
  CHECK(stats::value_of("exec.cpl0.ident_percent") == 100 * 201 / 403);
}

TEST_CASE("mov_and_push_of_segment_registers_store_the_guest_selectors_in_the_tc", "[virtual_flags]") {
  stats::reset_all();
  Machine m;
  m.vcpu.seg[kFs].selector = 0x33;  // not the host's: the value must come from the vCPU
  m.write32(kData, 0xaaaaaaaa);
  m.write32(kStackTop - 4, 0xbbbbbbbb);
  m.code(kCode, [](x86::Assembler& a) {
    a.mov(x86::eax, 0xffffffff);
    a.mov(x86::eax, x86::ds);  // 32-bit register: zero-extended
    a.mov(x86::ebx, 0xffffffff);
    a.mov(x86::bx, x86::cs);   // 16-bit register: upper half kept
    a.mov(x86::word_ptr(kData), x86::fs);
    a.push(x86::fs);
    a.pop(x86::ecx);
    a.push(x86::fs);
    a.hlt();
  });
  REQUIRE(m.run());
  CHECK(m.vcpu.gpr[kEax] == 0x10);
  CHECK(m.vcpu.gpr[kEbx] == 0xffff0008);
  CHECK(m.read32(kData) == 0xaaaa0033);
  CHECK((m.vcpu.gpr[kEcx] & 0xffff) == 0x33);
  CHECK(m.vcpu.gpr[kEsp] == kStackTop - 4);
  CHECK(m.read32(kStackTop - 4) == 0xbbbb0033);  // only the low 16 bits of the slot are written
  CHECK(stats::value_of("tc.exits_monitor") == 1);
}

TEST_CASE("cli_and_sti_in_the_tc_change_only_if_and_leave_the_arithmetic_flags_alone", "[virtual_flags]") {
  // IOPL 3, NT and every arithmetic flag set around the cli/sti: each must come out as it went in.
  const uint32_t arith = kFlagCf | kFlagPf | kFlagAf | kFlagZf | kFlagSf | kFlagOf;
  stats::reset_all();
  Machine m;
  m.vcpu.eflags = kFlagFixed1 | kFlagIopl | kFlagNt;
  m.code(kCode, [&](x86::Assembler& a) {
    a.push(arith | kFlagFixed1 | kFlagIopl | kFlagNt);
    a.popfd();  // arithmetic flags from the image; IOPL and NT unchanged
    a.cli();
    pushfd_into_ebx(a);
    a.sti();
    a.pushfd();
    a.pop(x86::ecx);
    a.hlt();
  });
  REQUIRE(m.run());
  const uint32_t kept = arith | kFlagIopl | kFlagNt | kFlagFixed1;
  CHECK((m.vcpu.gpr[kEbx] & (kept | kFlagIf)) == kept);
  CHECK((m.vcpu.gpr[kEcx] & (kept | kFlagIf)) == (kept | kFlagIf));
  CHECK((m.vcpu.eflags & (kept | kFlagIf)) == (kept | kFlagIf));
  CHECK(stats::value_of("tc.exits_monitor") == 1);  // only the hlt
}
