// Tests of the hardware task switch (runtime/cpu/task_switch.*) through its three doors: a task
// gate in the IDT (Linux i386's #DF handler), far JMP/CALL to a TSS or task gate, and IRET with
// NT=1. Expected values follow Intel SDM vol. 3 7.3 and the TSS layout of figure 7-2.
#include "runtime/cpu/counters.h"
#include "runtime/cpu/interrupts.h"
#include "runtime/cpu/system_instructions.h"
#include "tests/runtime/test_machine.h"

using namespace btvmm;
using namespace btvmm::runtime;
using namespace btvmm::runtime::test;

namespace {

constexpr uint16_t kDfTss = 0x60, kDfGate = 0x68, kShortTss = 0x70, kBadSsTss = 0x78;
constexpr uint32_t kDfTssBase = 0x5000, kShortTssBase = 0x5800, kBadSsTssBase = 0x5c00;
constexpr uint32_t kDfEip = 0x17000, kDfEsp = 0x6f00, kDfCr3 = 0x00abc000;

// A 32-bit TSS for a ring-0 task at `eip` with `esp`, flat kernel segments and EAX = 0x600d.
void write_task(Machine& m, uint32_t base, uint32_t eip, uint32_t esp, uint16_t ss = kKernelData) {
  for (uint32_t off = 0; off < 0x68; off += 4) m.env.write32(base + off, 0);
  m.env.write32(base + 0x1c, kDfCr3);
  m.env.write32(base + 0x20, eip);
  m.env.write32(base + 0x24, kFlagFixed1);
  m.env.write32(base + 0x28, 0x600d);
  m.env.write32(base + 0x38, esp);
  m.env.write16(base + 0x48, kKernelData);
  m.env.write16(base + 0x4c, kKernelCode);
  m.env.write16(base + 0x50, ss);
  m.env.write16(base + 0x54, kKernelData);
  m.env.write16(base + 0x58, kKernelData);
  m.env.write16(base + 0x5c, kKernelData);
}

// The fixture's machine plus a #DF task: its TSS (available), a task gate to it in the GDT and
// in IDT slot 8, and the current TSS marked busy in the GDT as LTR leaves it.
struct TaskMachine : Machine {
  TaskMachine() {
    vcpu.gdtr.limit = 0xff;
    vcpu.cr0 |= kCr0Pg;  // the new task's CR3 is loaded only with paging on
    set_gdt(kTssSel, make_descriptor(kTssBase, kTssLimit, kTss32Busy, false, 0, true, false, false));
    set_gdt(kDfTss, make_descriptor(kDfTssBase, 0x67, kTss32Avail, false, 0, true, false, false));
    set_gdt(kDfGate, make_gate(kDfTss, 0, kTaskGate, 0));
    set_desc(kIdtBase + kDf * 8, make_gate(kDfTss, 0, kTaskGate, 0));
    write_task(*this, kDfTssBase, kDfEip, kDfEsp);
  }
  bool busy(uint16_t selector) const { return gdt(selector).type() & 2; }
};

}  // namespace

TEST_CASE("double_fault_through_a_task_gate_switches_to_the_df_task_with_error_code_and_back_link") {
  TaskMachine m;
  m.vcpu.gpr[kEax] = 0x1234;
  m.vcpu.gpr[kEsi] = 0x5678;
  m.vcpu.eip = 0x10040;
  const uint32_t old_esp = m.vcpu.gpr[kEsp];
  stats::reset_all();
  // #GP whose gate is absent raises #NP: contributory twice, so #DF (SDM vol. 3 table 6-5).
  m.set_desc(kIdtBase + kGp * 8, make_gate(kKernelCode, 0x1000, kIntGate32, 0, false));
  const auto r = deliver_exception(m.vcpu, m.env, gp(0));
  REQUIRE(r.kind == StepResult::kContinue);
  CHECK(counters::unimplemented.value() == 0);
  CHECK(counters::task_switches.value() == 1);
  // The new task runs at its TSS's EIP with its registers, error code 0 on its stack.
  CHECK(m.vcpu.eip == kDfEip);
  CHECK(m.vcpu.gpr[kEax] == 0x600d);
  CHECK(m.vcpu.gpr[kEsp] == kDfEsp - 4);
  CHECK(m.env.read32(kDfEsp - 4) == 0);
  CHECK(m.vcpu.tr.selector == kDfTss);
  CHECK(m.vcpu.cr3 == kDfCr3);
  CHECK((m.vcpu.eflags & kFlagNt) != 0);  // nested: IRET will return through the back link
  CHECK((m.vcpu.cr0 & kCr0Ts) != 0);
  CHECK(m.busy(kDfTss));
  CHECK(m.busy(kTssSel));
  CHECK(m.env.read16(kDfTssBase) == kTssSel);  // previous task link
  // The interrupted task's state is in its TSS: EIP of the faulting instruction, registers.
  CHECK(m.env.read32(kTssBase + 0x20) == 0x10040);
  CHECK(m.env.read32(kTssBase + 0x28) == 0x1234);
  CHECK(m.env.read32(kTssBase + 0x38) == old_esp);
  CHECK(m.env.read32(kTssBase + 0x40) == 0x5678);
  CHECK(m.env.read16(kTssBase + 0x4c) == kKernelCode);
  CHECK(m.env.read32(kTssBase + 4) == kKernelStackTop);  // static fields untouched
}

TEST_CASE("iret_with_nt_returns_to_the_interrupted_task_and_frees_the_nested_one") {
  TaskMachine m;
  m.vcpu.gpr[kEbx] = 0xb0b;
  m.vcpu.eip = 0x10040;
  REQUIRE(deliver_exception(m.vcpu, m.env, {kDf, true, 0, 0}).kind == StepResult::kContinue);
  REQUIRE(m.vcpu.tr.selector == kDfTss);
  m.vcpu.gpr[kEbx] = 0xdead;
  m.env.mem[kDfEip] = 0xcf;  // iretd in the #DF task
  const auto r = m.run({0xcf});
  REQUIRE(r.kind == StepResult::kContinue);
  CHECK(m.vcpu.tr.selector == kTssSel);
  CHECK(m.vcpu.eip == 0x10040);
  CHECK(m.vcpu.gpr[kEbx] == 0xb0b);
  CHECK(!m.busy(kDfTss));
  CHECK(m.busy(kTssSel));
  // The #DF task was saved with NT clear and its EIP after the IRET.
  CHECK((m.env.read32(kDfTssBase + 0x24) & kFlagNt) == 0);
  CHECK(m.env.read32(kDfTssBase + 0x20) == kDfEip + 1);
  CHECK(m.env.read32(kDfTssBase + 0x34) == 0xdead);
}

TEST_CASE("far_call_to_a_tss_nests_and_a_second_call_to_the_busy_tss_raises_gp_selector") {
  TaskMachine m;
  const auto r = m.run({0x9a, 0x00, 0x00, 0x00, 0x00, kDfTss, 0x00});  // call 0x60:0
  REQUIRE(r.kind == StepResult::kContinue);
  CHECK(m.vcpu.eip == kDfEip);
  CHECK(m.env.read32(kTssBase + 0x20) == kCodeBase + 7);  // return point saved in the caller's TSS
  CHECK((m.vcpu.eflags & kFlagNt) != 0);
  CHECK(m.env.read16(kDfTssBase) == kTssSel);
  CHECK(is_fault(m.run({0x9a, 0x00, 0x00, 0x00, 0x00, kDfTss, 0x00}), kGp, kDfTss));
  CHECK(m.vcpu.tr.selector == kDfTss);
}

TEST_CASE("far_jmp_through_a_task_gate_frees_the_old_task_and_leaves_nt_clear") {
  TaskMachine m;
  const auto r = m.run({0xea, 0x00, 0x00, 0x00, 0x00, kDfGate, 0x00});  // jmp 0x68:0
  REQUIRE(r.kind == StepResult::kContinue);
  CHECK(m.vcpu.tr.selector == kDfTss);
  CHECK(m.vcpu.eip == kDfEip);
  CHECK((m.vcpu.eflags & kFlagNt) == 0);
  CHECK(!m.busy(kTssSel));
  CHECK(m.busy(kDfTss));
  CHECK(m.env.read16(kDfTssBase) == 0);  // no back link for JMP
}

TEST_CASE("far_jmp_to_a_tss_from_cpl3_above_its_dpl_raises_gp_selector") {
  TaskMachine m;
  m.enter_user();
  CHECK(is_fault(m.run({0xea, 0x00, 0x00, 0x00, 0x00, kDfTss, 0x00}), kGp, kDfTss));
  CHECK(m.vcpu.tr.selector == kTssSel);
}

TEST_CASE("task_switch_to_a_tss_shorter_than_0x67_raises_ts_and_changes_nothing") {
  TaskMachine m;
  m.set_gdt(kShortTss, make_descriptor(kShortTssBase, 0x40, kTss32Avail, false, 0, true, false, false));
  write_task(m, kShortTssBase, kDfEip, kDfEsp);
  const uint32_t eip = m.vcpu.eip;
  CHECK(is_fault(m.run({0xea, 0x00, 0x00, 0x00, 0x00, kShortTss, 0x00}), kTs, kShortTss));
  CHECK(m.vcpu.tr.selector == kTssSel);
  CHECK(m.vcpu.eip == eip);
  CHECK(m.busy(kTssSel));
}

TEST_CASE("page_fault_reading_the_new_tss_leaves_the_old_task_untouched") {
  TaskMachine m;
  m.env.absent_pages.insert(kDfTssBase >> 12);
  const uint32_t saved_eip_field = m.env.read32(kTssBase + 0x20);
  const auto r = m.run({0xea, 0x00, 0x00, 0x00, 0x00, kDfTss, 0x00});
  CHECK(is_fault(r, kPf, 0));
  CHECK(m.vcpu.tr.selector == kTssSel);
  CHECK(m.env.read32(kTssBase + 0x20) == saved_eip_field);
  CHECK(!m.busy(kDfTss));
}

TEST_CASE("bad_stack_segment_in_the_new_tss_raises_ts_in_the_context_of_the_new_task") {
  TaskMachine m;
  m.set_gdt(kBadSsTss, make_descriptor(kBadSsTssBase, 0x67, kTss32Avail, false, 0, true, false, false));
  write_task(m, kBadSsTssBase, kDfEip, kDfEsp, kUserData);  // DPL 3 stack for a ring-0 task
  const auto r = m.run({0xea, 0x00, 0x00, 0x00, 0x00, kBadSsTss, 0x00});
  CHECK(is_fault(r, kTs, kUserData & 0xfffc));
  // SDM vol. 3 7.3 step 13: the switch is complete; the #TS is delivered at the new task's EIP.
  CHECK(m.vcpu.tr.selector == kBadSsTss);
  CHECK(m.vcpu.eip == kDfEip);
}

TEST_CASE("task_gate_for_int_n_from_cpl3_checks_the_gate_dpl") {
  TaskMachine m;
  m.set_desc(kIdtBase + 0x40 * 8, make_gate(kDfTss, 0, kTaskGate, 0));
  m.set_gate(kGp, 0x1000);
  m.enter_user();
  // #GP(0x40 * 8 + 2) is delivered through IDT[13] instead of any task switch.
  REQUIRE(m.run({0xcd, 0x40}).kind == StepResult::kContinue);
  CHECK(m.vcpu.eip == 0x1000);
  CHECK(m.stack(0) == 0x40u * 8 + 2);
  CHECK(m.vcpu.tr.selector == kTssSel);
}
