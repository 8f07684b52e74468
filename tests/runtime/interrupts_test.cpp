// Tests of IDT delivery (runtime/cpu/interrupts.*): privilege change through the TSS, gate
// checks, double fault and shutdown (Intel SDM vol. 3 6.12-6.15).
#include "core/stats.h"
#include "runtime/cpu/counters.h"
#include "runtime/cpu/interrupts.h"
#include "tests/runtime/test_machine.h"

namespace btvmm::runtime::test {
namespace {

TEST_CASE("int_0x80_from_cpl3_switches_to_tss_esp0_and_pushes_ss_esp_eflags_cs_eip") {
  Machine m;
  m.set_gate(0x80, 0x7000, kTrapGate32, 3);
  m.enter_user();
  m.vcpu.eflags = kFlagFixed1 | kFlagIf | kFlagTf;
  const auto r = m.run({0xcd, 0x80});
  REQUIRE(r.kind == StepResult::kContinue);
  CHECK(m.vcpu.cpl == 0);
  CHECK(m.vcpu.eip == 0x7000);
  CHECK(m.vcpu.seg[kCs].selector == kKernelCode);
  CHECK(m.vcpu.seg[kSs].selector == kKernelData);
  CHECK(m.vcpu.gpr[kEsp] == kKernelStackTop - 20);
  CHECK(m.stack(0) == 0x40002);               // EIP after int 0x80
  CHECK(m.stack(1) == kUserCode);
  CHECK(m.stack(2) == (kFlagFixed1 | kFlagIf | kFlagTf));
  CHECK(m.stack(3) == kUserStackTop);
  CHECK(m.stack(4) == kUserData);
  CHECK((m.vcpu.eflags & kFlagTf) == 0);      // TF cleared on delivery
  CHECK((m.vcpu.eflags & kFlagIf) != 0);      // trap gate keeps IF
}

TEST_CASE("interrupt_gate_clears_if_and_same_ring_delivery_keeps_the_stack") {
  Machine m;
  m.set_gate(0x30, 0x7100, kIntGate32, 0);
  m.vcpu.eflags = kFlagFixed1 | kFlagIf;
  const uint32_t esp = m.vcpu.gpr[kEsp];
  const auto r = deliver_interrupt(m.vcpu, m.env, 0x30, false, 0x12345);
  REQUIRE(r.kind == StepResult::kContinue);
  CHECK(m.vcpu.gpr[kEsp] == esp - 12);
  CHECK(m.stack(0) == 0x12345);
  CHECK(m.stack(1) == kKernelCode);
  CHECK((m.vcpu.eflags & kFlagIf) == 0);
}

TEST_CASE("exception_with_error_code_pushes_it_below_eip") {
  Machine m;
  m.set_gate(kGp, 0x7200);
  m.vcpu.eip = 0x10010;
  const auto r = deliver_exception(m.vcpu, m.env, gp(0x28));
  REQUIRE(r.kind == StepResult::kContinue);
  CHECK(m.stack(0) == 0x28);
  CHECK(m.stack(1) == 0x10010);
  CHECK(m.vcpu.eip == 0x7200);
}

TEST_CASE("int_n_through_a_dpl0_gate_from_cpl3_raises_gp_vector_times_8_plus_2") {
  Machine m;
  m.set_gate(0x81, 0x7000, kIntGate32, 0);
  m.set_gate(kGp, 0x7300, kIntGate32, 0);
  m.enter_user();
  const auto r = m.run({0xcd, 0x81});
  REQUIRE(r.kind == StepResult::kContinue);
  CHECK(m.vcpu.eip == 0x7300);                 // the #GP handler ran instead
  CHECK(m.stack(0) == 0x81u * 8 + 2);          // error code: IDT bit, EXT=0
  CHECK(m.stack(1) == 0x40000);                // reported at the int instruction
}

TEST_CASE("external_interrupt_ignores_gate_dpl_and_not_present_gate_raises_np_with_ext") {
  Machine m;
  m.set_gate(kNp, 0x7400);
  m.set_desc(kIdtBase + 0x31 * 8, make_gate(kKernelCode, 0x7000, kIntGate32, 0, false));
  m.enter_user();
  const auto r = deliver_interrupt(m.vcpu, m.env, 0x31, false, m.vcpu.eip);
  REQUIRE(r.kind == StepResult::kContinue);
  CHECK(m.vcpu.eip == 0x7400);
  CHECK(m.stack(0) == 0x31u * 8 + 2 + 1);
}

TEST_CASE("page_fault_during_exception_delivery_becomes_double_fault") {
  Machine m;
  m.set_gate(kGp, 0x7200);
  m.set_gate(kDf, 0x7500);
  // The #PF gate's code segment lives in an LDT on an absent page: fetching its descriptor
  // page-faults while delivering #PF, and page fault on page fault is a double fault.
  m.set_gate(kPf, 0x7600, kIntGate32, 0, kLdtData);
  m.vcpu.ldtr.base = 0x50000;
  m.vcpu.ldtr.limit = 0xf;
  m.vcpu.ldtr.attrs = kLdt | 0x80;
  m.vcpu.ldtr.selector = kLdtSel;
  m.env.absent_pages.insert(0x50);
  stats::reset_all();
  GuestException pf{kPf, true, 4, 0x1234};
  const auto r = deliver_exception(m.vcpu, m.env, pf);
  REQUIRE(r.kind == StepResult::kContinue);
  CHECK(counters::double_faults.value() == 1);
  CHECK(m.vcpu.eip == 0x7500);
  CHECK(m.vcpu.cr2 == 0x50000);  // CR2 of the second page fault
}

TEST_CASE("gp_during_gp_delivery_becomes_double_fault") {
  Machine m;
  m.set_gate(kGp, 0x7200, kIntGate32, 0, kAbsentData);  // gate to a data segment: #GP(sel)
  m.set_gate(kDf, 0x7500);
  stats::reset_all();
  const auto r = deliver_exception(m.vcpu, m.env, gp(0));
  REQUIRE(r.kind == StepResult::kContinue);
  CHECK(m.vcpu.eip == 0x7500);
  CHECK(m.stack(0) == 0);  // #DF error code
  CHECK(counters::double_faults.value() == 1);
}

TEST_CASE("fault_during_double_fault_is_shutdown") {
  Machine m;
  m.set_gate(kGp, 0x7200, kIntGate32, 0, kAbsentData);
  m.set_gate(kDf, 0x7500, kIntGate32, 0, kAbsentData);
  stats::reset_all();
  const auto r = deliver_exception(m.vcpu, m.env, gp(0));
  CHECK(r.kind == StepResult::kShutdown);
  CHECK(counters::triple_faults.value() == 1);
}

TEST_CASE("benign_exception_whose_delivery_faults_delivers_the_second_serially") {
  Machine m;
  m.set_gate(kBp, 0x7000, kIntGate32, 3, 0x60);  // selector beyond the GDT limit: #GP(0x60|EXT)
  m.set_gate(kGp, 0x7200);
  stats::reset_all();
  const auto r = m.run({0xcc});
  REQUIRE(r.kind == StepResult::kContinue);
  CHECK(m.vcpu.eip == 0x7200);
  CHECK(m.stack(0) == 0x60);  // int3 is a software interrupt: EXT = 0
  CHECK(counters::double_faults.value() == 0);
}

TEST_CASE("vector_beyond_idt_limit_raises_gp_with_idt_bit") {
  Machine m;
  m.vcpu.idtr.limit = 0x6f;  // vectors 0..13
  m.set_gate(kGp, 0x7200);
  const auto r = deliver_interrupt(m.vcpu, m.env, 0x20, true, 0x10002);
  REQUIRE(r.kind == StepResult::kContinue);
  CHECK(m.stack(0) == 0x20u * 8 + 2);
}

TEST_CASE("sixteen_bit_interrupt_gate_pushes_word_slots_and_truncates_the_offset") {
  Machine m;
  m.set_gate(0x40, 0x12347100, kIntGate16, 0);
  const uint32_t esp = m.vcpu.gpr[kEsp];
  REQUIRE(deliver_interrupt(m.vcpu, m.env, 0x40, false, 0x10002).kind == StepResult::kContinue);
  CHECK(m.vcpu.eip == 0x7100);
  CHECK(m.vcpu.gpr[kEsp] == esp - 6);
  CHECK(m.env.read16(m.vcpu.gpr[kEsp]) == 0x0002);
  CHECK(m.env.read16(m.vcpu.gpr[kEsp] + 2) == kKernelCode);
}

TEST_CASE("into_delivers_overflow_only_when_of_is_set") {
  Machine m;
  m.set_gate(kOf, 0x7700, kTrapGate32, 3);
  m.vcpu.eflags = kFlagFixed1;
  auto r = m.run({0xce});
  REQUIRE(r.kind == StepResult::kContinue);
  CHECK(m.vcpu.eip == kCodeBase + 1);
  m.vcpu.eflags |= kFlagOf;
  r = m.run({0xce});
  REQUIRE(r.kind == StepResult::kContinue);
  CHECK(m.vcpu.eip == 0x7700);
  CHECK(m.stack(0) == kCodeBase + 2);
}

TEST_CASE("delivery_wakes_a_halted_cpu") {
  Machine m;
  m.set_gate(0x30, 0x7100);
  const auto h = m.run({0xf4});
  REQUIRE(h.kind == StepResult::kHalt);
  CHECK(m.vcpu.halted);
  CHECK(m.vcpu.eip == kCodeBase + 1);
  deliver_interrupt(m.vcpu, m.env, 0x30, false, m.vcpu.eip);
  CHECK_FALSE(m.vcpu.halted);
  CHECK(m.stack(0) == kCodeBase + 1);
}

}  // namespace
}  // namespace btvmm::runtime::test
