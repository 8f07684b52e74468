// Tests of IRET and far JMP/CALL/RET (runtime/cpu/iret.*, far_transfer.*): privilege checks,
// outer-ring returns and data-segment nulling (Intel SDM vol. 2 IRET, JMP, CALL, RET).
#include "core/stats.h"
#include "runtime/cpu/counters.h"
#include "tests/runtime/test_machine.h"

namespace btvmm::runtime::test {
namespace {

void push_iret_frame(Machine& m, uint32_t eip, uint16_t cs, uint32_t eflags) {
  m.push32(eflags);
  m.push32(cs);
  m.push32(eip);
}

TEST_CASE("iret_to_cpl3_pops_ss_esp_and_nulls_data_segments_with_dpl_below_cpl") {
  Machine m;
  set_segment(m.vcpu, kFs, m.cache_of(kUserData));  // DPL 3: survives the return
  m.push32(kUserData);
  m.push32(0x7ff0);
  push_iret_frame(m, 0x40100, kUserCode, kFlagFixed1 | kFlagIf);
  const auto r = m.run({0xcf});
  REQUIRE(r.kind == StepResult::kContinue);
  CHECK(m.vcpu.cpl == 3);
  CHECK(m.vcpu.eip == 0x40100);
  CHECK(m.vcpu.gpr[kEsp] == 0x7ff0);
  CHECK(m.vcpu.seg[kSs].selector == kUserData);
  CHECK(m.vcpu.seg[kCs].selector == kUserCode);
  CHECK(m.vcpu.seg[kDs].selector == 0);
  CHECK(m.vcpu.seg[kDs].unusable());
  CHECK(m.vcpu.seg[kEs].unusable());
  CHECK(m.vcpu.seg[kGs].unusable());
  CHECK(m.vcpu.seg[kFs].selector == kUserData);
  CHECK((m.vcpu.eflags & kFlagIf) != 0);
}

TEST_CASE("iret_at_cpl0_restores_if_and_iopl_but_at_cpl3_keeps_them") {
  Machine m;
  push_iret_frame(m, 0x10100, kKernelCode, kFlagFixed1 | kFlagIf | kFlagIopl);
  REQUIRE(m.run({0xcf}).kind == StepResult::kContinue);
  CHECK(m.vcpu.eflags == (kFlagFixed1 | kFlagIf | kFlagIopl));
  CHECK(m.vcpu.eip == 0x10100);

  Machine u;
  u.enter_user();
  u.vcpu.eflags = kFlagFixed1;
  push_iret_frame(u, 0x40100, kUserCode, kFlagFixed1 | kFlagIf | kFlagIopl | kFlagCf);
  REQUIRE(u.run({0xcf}).kind == StepResult::kContinue);
  CHECK(u.vcpu.eflags == (kFlagFixed1 | kFlagCf));
}

TEST_CASE("iret_to_a_more_privileged_ring_raises_gp_selector") {
  Machine m;
  m.enter_user();
  push_iret_frame(m, 0x10100, kKernelCode, kFlagFixed1);
  const uint32_t esp = m.vcpu.gpr[kEsp];
  const auto r = m.run({0xcf});
  CHECK(is_fault(r, kGp, kKernelCode));
  CHECK(m.vcpu.gpr[kEsp] == esp);  // nothing committed
  CHECK(m.vcpu.cpl == 3);
}

TEST_CASE("iret_to_cpl3_with_a_dpl0_stack_segment_raises_gp_selector") {
  Machine m;
  m.push32(kKernelData);
  m.push32(0x7ff0);
  push_iret_frame(m, 0x40100, kUserCode, kFlagFixed1);
  CHECK(is_fault(m.run({0xcf}), kGp, kKernelData));
  CHECK(m.vcpu.cpl == 0);
}

TEST_CASE("far_jmp_ptr16_32_reloads_cs_and_sets_the_accessed_bit") {
  Machine m;
  m.set_gdt(kKernelCode, make_descriptor(0, 0xfffff, 0xa, true, 0, true, true, true));  // accessed clear
  const auto r = m.run({0xea, 0x34, 0x12, 0x00, 0x00, 0x08, 0x00});
  REQUIRE(r.kind == StepResult::kContinue);
  CHECK(m.vcpu.eip == 0x1234);
  CHECK(m.vcpu.seg[kCs].selector == kKernelCode);
  CHECK(m.gdt(kKernelCode).accessed());
}

TEST_CASE("far_jmp_to_a_dpl3_nonconforming_segment_from_cpl0_raises_gp_selector") {
  Machine m;
  CHECK(is_fault(m.run({0xea, 0x34, 0x12, 0x00, 0x00, 0x1b, 0x00}), kGp, 0x18));
}

TEST_CASE("far_jmp_beyond_the_code_limit_raises_gp0_and_to_a_null_selector_gp0") {
  Machine m;
  m.set_gdt(kKernelCode, make_descriptor(0, 0xfff, 0xb, true, 0, true, true, false));
  CHECK(is_fault(m.run({0xea, 0x00, 0x20, 0x00, 0x00, 0x08, 0x00}), kGp, 0));
  CHECK(is_fault(m.run({0xea, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00}), kGp, 0));
}

TEST_CASE("far_call_then_lret_imm_releases_the_arguments") {
  Machine m;
  const uint32_t esp = m.vcpu.gpr[kEsp];
  REQUIRE(m.run({0x9a, 0x00, 0x50, 0x00, 0x00, 0x08, 0x00}).kind == StepResult::kContinue);
  CHECK(m.vcpu.eip == 0x5000);
  CHECK(m.stack(0) == kCodeBase + 7);
  CHECK((m.stack(1) & 0xffff) == kKernelCode);
  CHECK(m.vcpu.gpr[kEsp] == esp - 8);
  REQUIRE(m.run({0xca, 0x04, 0x00}).kind == StepResult::kContinue);
  CHECK(m.vcpu.eip == kCodeBase + 7);
  CHECK(m.vcpu.gpr[kEsp] == esp + 4);
}

TEST_CASE("far_call_through_a_same_ring_call_gate_uses_the_gate_offset") {
  Machine m;
  REQUIRE(m.run({0x9a, 0x00, 0x00, 0x00, 0x00, 0x58, 0x00}).kind == StepResult::kContinue);
  CHECK(m.vcpu.eip == 0x5000);
  CHECK(m.vcpu.seg[kCs].selector == kKernelCode);
}

TEST_CASE("far_call_through_a_call_gate_from_cpl3_switches_stack_copies_parameters_and_lret_returns") {
  Machine m;
  Descriptor gate = make_gate(kKernelCode, 0x5000, kCallGate32, 3);
  gate.hi |= 2;  // two dword parameters
  m.set_gdt(kCallGate, gate);
  m.enter_user();
  m.push32(0xbbbb);  // parameter 1
  m.push32(0xaaaa);  // parameter 0
  const uint32_t user_esp = m.vcpu.gpr[kEsp];
  REQUIRE(m.run({0x9a, 0x00, 0x00, 0x00, 0x00, 0x5b, 0x00}).kind == StepResult::kContinue);
  CHECK(m.vcpu.cpl == 0);
  CHECK(m.vcpu.eip == 0x5000);
  CHECK(m.vcpu.seg[kSs].selector == kKernelData);
  CHECK(m.vcpu.gpr[kEsp] == kKernelStackTop - 24);
  CHECK(m.stack(0) == 0x40007);
  CHECK((m.stack(1) & 0xffff) == kUserCode);
  CHECK(m.stack(2) == 0xaaaa);
  CHECK(m.stack(3) == 0xbbbb);
  CHECK(m.stack(4) == user_esp);
  CHECK((m.stack(5) & 0xffff) == kUserData);
  REQUIRE(m.run({0xca, 0x08, 0x00}).kind == StepResult::kContinue);  // lret 8
  CHECK(m.vcpu.cpl == 3);
  CHECK(m.vcpu.eip == 0x40007);
  CHECK(m.vcpu.gpr[kEsp] == user_esp + 8);
}

TEST_CASE("far_jmp_through_a_call_gate_to_an_inner_ring_raises_gp_code_selector") {
  Machine m;
  m.enter_user();
  CHECK(is_fault(m.run({0xea, 0x00, 0x00, 0x00, 0x00, 0x5b, 0x00}), kGp, kKernelCode));
}

TEST_CASE("lret_to_cpl3_pops_ss_esp_and_nulls_kernel_data_segments") {
  Machine m;
  m.push32(kUserData);
  m.push32(0x7f00);
  m.push32(kUserCode);
  m.push32(0x40200);
  REQUIRE(m.run({0xcb}).kind == StepResult::kContinue);
  CHECK(m.vcpu.cpl == 3);
  CHECK(m.vcpu.eip == 0x40200);
  CHECK(m.vcpu.gpr[kEsp] == 0x7f00);
  CHECK(m.vcpu.seg[kDs].unusable());
}

TEST_CASE("far_jmp_to_a_conforming_segment_keeps_cpl") {
  Machine m;
  m.enter_user();
  REQUIRE(m.run({0xea, 0x00, 0x60, 0x00, 0x00, 0x48, 0x00}).kind == StepResult::kContinue);
  CHECK(m.vcpu.cpl == 3);
  CHECK(m.vcpu.seg[kCs].selector == (kConformingCode | 3));
}

}  // namespace
}  // namespace btvmm::runtime::test
