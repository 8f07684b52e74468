// Tests of segment loads, selector queries, addressing and flag instructions
// (runtime/cpu/segments.*, memory_access.*, operands.*, flags_instructions.*).
#include "runtime/cpu/memory_access.h"
#include "runtime/cpu/operands.h"
#include "tests/runtime/test_machine.h"

namespace btvmm::runtime::test {
namespace {

TEST_CASE("lar_on_a_null_selector_clears_zf") {
  Machine m;
  m.vcpu.eflags |= kFlagZf;
  m.vcpu.gpr[kEcx] = 0;
  m.vcpu.gpr[kEax] = 0x1234;
  REQUIRE(m.run({0x0f, 0x02, 0xc1}).kind == StepResult::kContinue);
  CHECK((m.vcpu.eflags & kFlagZf) == 0);
  CHECK(m.vcpu.gpr[kEax] == 0x1234);
}

TEST_CASE("lar_and_lsl_report_rights_and_byte_limit_of_a_visible_descriptor") {
  Machine m;
  m.vcpu.gpr[kEcx] = kKernelCode;
  REQUIRE(m.run({0x0f, 0x02, 0xc1}).kind == StepResult::kContinue);
  CHECK((m.vcpu.eflags & kFlagZf) != 0);
  CHECK(m.vcpu.gpr[kEax] == (m.gdt(kKernelCode).hi & 0x00f0ff00));
  REQUIRE(m.run({0x0f, 0x03, 0xc1}).kind == StepResult::kContinue);
  CHECK(m.vcpu.gpr[kEax] == 0xffffffff);
  m.vcpu.gpr[kEcx] = kSmallData;
  REQUIRE(m.run({0x0f, 0x03, 0xc1}).kind == StepResult::kContinue);
  CHECK(m.vcpu.gpr[kEax] == 0xfff);
}

TEST_CASE("lar_at_cpl3_on_a_dpl0_data_segment_clears_zf_but_conforming_code_is_visible") {
  Machine m;
  m.enter_user();
  m.vcpu.gpr[kEcx] = kKernelData | 3;
  REQUIRE(m.run({0x0f, 0x02, 0xc1}).kind == StepResult::kContinue);
  CHECK((m.vcpu.eflags & kFlagZf) == 0);
  m.vcpu.gpr[kEcx] = kConformingCode | 3;
  REQUIRE(m.run({0x0f, 0x02, 0xc1}).kind == StepResult::kContinue);
  CHECK((m.vcpu.eflags & kFlagZf) != 0);
}

TEST_CASE("verr_accepts_readable_segments_and_verw_only_writable_data") {
  Machine m;
  m.vcpu.gpr[kEcx] = kKernelCode;
  REQUIRE(m.run({0x0f, 0x00, 0xe1}).kind == StepResult::kContinue);  // verr cx
  CHECK((m.vcpu.eflags & kFlagZf) != 0);
  REQUIRE(m.run({0x0f, 0x00, 0xe9}).kind == StepResult::kContinue);  // verw cx
  CHECK((m.vcpu.eflags & kFlagZf) == 0);
  m.vcpu.gpr[kEcx] = kKernelData;
  REQUIRE(m.run({0x0f, 0x00, 0xe9}).kind == StepResult::kContinue);
  CHECK((m.vcpu.eflags & kFlagZf) != 0);
}

TEST_CASE("mov_ss_with_a_null_selector_raises_gp0_and_a_good_one_opens_the_interrupt_shadow") {
  Machine m;
  m.vcpu.gpr[kEax] = 0;
  CHECK(is_fault(m.run({0x8e, 0xd0}), kGp, 0));
  m.vcpu.gpr[kEax] = kKernelData;
  REQUIRE(m.run({0x8e, 0xd0}).kind == StepResult::kContinue);
  CHECK(m.vcpu.interrupt_shadow);
}

TEST_CASE("mov_ds_null_is_allowed_and_a_later_access_through_it_raises_gp0") {
  Machine m;
  m.vcpu.gpr[kEax] = 0;
  REQUIRE(m.run({0x8e, 0xd8}).kind == StepResult::kContinue);
  CHECK(m.vcpu.seg[kDs].unusable());
  uint32_t v = 0;
  const auto f = read_data(m.vcpu, m.env, kDs, 0x100, &v, 4);
  REQUIRE(f);
  CHECK(f->vector == kGp);
}

TEST_CASE("mov_ds_of_a_not_present_segment_raises_np_selector_and_of_dpl0_at_cpl3_gp_selector") {
  Machine m;
  m.vcpu.gpr[kEax] = kAbsentData;
  CHECK(is_fault(m.run({0x8e, 0xd8}), kNp, kAbsentData));
  m.enter_user();
  m.vcpu.gpr[kEax] = kKernelData | 3;
  CHECK(is_fault(m.run({0x8e, 0xd8}), kGp, kKernelData));
  m.vcpu.gpr[kEax] = 0x60;  // beyond the GDT limit
  CHECK(is_fault(m.run({0x8e, 0xd8}), kGp, 0x60));
}

TEST_CASE("segment_load_sets_the_accessed_bit_in_the_descriptor") {
  Machine m;
  REQUIRE_FALSE(m.gdt(kSmallData).accessed());
  m.vcpu.gpr[kEax] = kSmallData;
  REQUIRE(m.run({0x8e, 0xe8}).kind == StepResult::kContinue);  // mov gs, ax
  CHECK(m.gdt(kSmallData).accessed());
  CHECK(m.vcpu.seg_base_cache[kGs] == 0x20000);
}

TEST_CASE("expand_down_segment_accepts_offsets_above_the_limit_only") {
  Machine m;
  const SegmentCache down = m.cache_of(kExpandDown);  // limit 0xfff, B=1
  uint32_t la = 0;
  CHECK(linearize(down, kDs, 0x1000, 4, Access::kWrite, &la) == std::nullopt);
  CHECK(la == 0x21000);
  CHECK(linearize(down, kDs, 0xfff, 4, Access::kRead, &la).has_value());
  CHECK(linearize(down, kSs, 0xffffffff, 2, Access::kRead, &la)->vector == kSsFault);
  const SegmentCache up = m.cache_of(kSmallData);
  CHECK(linearize(up, kDs, 0xffc, 4, Access::kRead, &la) == std::nullopt);
  CHECK(linearize(up, kDs, 0xffd, 4, Access::kRead, &la).has_value());
  CHECK(linearize(m.cache_of(kKernelCode), kCs, 0, 4, Access::kWrite, &la).has_value());
}

TEST_CASE("effective_address_with_16_bit_addressing_wraps_at_64k") {
  const auto d = translator::decode(std::vector<uint8_t>{0x67, 0x8b, 0x40, 0x10}, 0);  // mov eax, [bx+si+0x10]
  REQUIRE(d.ok());
  VcpuState v;
  v.gpr[kEbx] = 0x1fff0;
  v.gpr[kEsi] = 0x8;
  const auto* mem = find_operand(d.instruction, ZYDIS_OPERAND_TYPE_MEMORY);
  REQUIRE(mem);
  CHECK(effective_address(v, d.instruction, *mem) == 0x0008);
  const auto e = translator::decode(std::vector<uint8_t>{0x8b, 0x44, 0x8b, 0xfc}, 0);  // mov eax, [ebx+ecx*4-4]
  v.gpr[kEcx] = 2;
  CHECK(effective_address(v, e.instruction, *find_operand(e.instruction, ZYDIS_OPERAND_TYPE_MEMORY)) == 0x1fff0 + 4);
}

TEST_CASE("popf_at_cpl3_with_iopl0_leaves_if_unchanged") {
  Machine m;
  m.enter_user();
  m.vcpu.eflags = kFlagFixed1;
  m.push32(kFlagIf | kFlagIopl | kFlagCf | kFlagVm | kFlagRf);
  REQUIRE(m.run({0x9d}).kind == StepResult::kContinue);
  CHECK(m.vcpu.eflags == (kFlagFixed1 | kFlagCf));
  CHECK(m.vcpu.gpr[kEsp] == kUserStackTop);
}

TEST_CASE("popf_at_cpl0_changes_if_and_iopl_but_never_vm") {
  Machine m;
  m.push32(kFlagIf | kFlagIopl | kFlagVm | kFlagAc);
  REQUIRE(m.run({0x9d}).kind == StepResult::kContinue);
  CHECK(m.vcpu.eflags == (kFlagFixed1 | kFlagIf | kFlagIopl | kFlagAc));
}

TEST_CASE("pushf_pushes_eflags_with_vm_and_rf_clear") {
  Machine m;
  m.vcpu.eflags = kFlagFixed1 | kFlagIf | kFlagRf;
  REQUIRE(m.run({0x9c}).kind == StepResult::kContinue);
  CHECK(m.stack(0) == (kFlagFixed1 | kFlagIf));
}

TEST_CASE("cli_at_cpl3_with_iopl0_raises_gp0_and_sti_opens_the_interrupt_shadow") {
  Machine m;
  m.enter_user();
  CHECK(is_fault(m.run({0xfa}), kGp, 0));
  m.enter_kernel();
  REQUIRE(m.run({0xfa}).kind == StepResult::kContinue);
  CHECK((m.vcpu.eflags & kFlagIf) == 0);
  REQUIRE(m.run({0xfb}).kind == StepResult::kContinue);
  CHECK((m.vcpu.eflags & kFlagIf) != 0);
  CHECK(m.vcpu.interrupt_shadow);
  REQUIRE(m.run({0xfb}).kind == StepResult::kContinue);  // IF already set: no new shadow
  CHECK_FALSE(m.vcpu.interrupt_shadow);
}

TEST_CASE("push_and_pop_of_a_segment_register_round_trip_and_pop_ss_opens_the_shadow") {
  Machine m;
  const uint32_t esp = m.vcpu.gpr[kEsp];
  REQUIRE(m.run({0x0f, 0xa0}).kind == StepResult::kContinue);  // push fs
  CHECK(m.vcpu.gpr[kEsp] == esp - 4);
  CHECK(m.env.read16(m.vcpu.gpr[kEsp]) == kKernelData);
  REQUIRE(m.run({0x1f}).kind == StepResult::kContinue);  // pop ds
  CHECK(m.vcpu.gpr[kEsp] == esp);
  m.push32(kKernelData);
  REQUIRE(m.run({0x17}).kind == StepResult::kContinue);  // pop ss
  CHECK(m.vcpu.interrupt_shadow);
}

TEST_CASE("pop_ds_of_a_bad_selector_faults_without_moving_esp") {
  Machine m;
  m.push32(kAbsentData);
  const uint32_t esp = m.vcpu.gpr[kEsp];
  CHECK(is_fault(m.run({0x1f}), kNp, kAbsentData));
  CHECK(m.vcpu.gpr[kEsp] == esp);
}

TEST_CASE("mov_from_a_segment_register_zero_extends_into_a_32_bit_register") {
  Machine m;
  m.vcpu.gpr[kEax] = 0xffffffff;
  REQUIRE(m.run({0x8c, 0xe0}).kind == StepResult::kContinue);  // mov eax, fs
  CHECK(m.vcpu.gpr[kEax] == kKernelData);
}

TEST_CASE("lds_loads_the_segment_and_the_offset_register") {
  Machine m;
  m.env.write32(0x6000, 0x44);
  m.env.write16(0x6004, kSmallData);
  m.vcpu.gpr[kEbx] = 0x6000;
  REQUIRE(m.run({0xc5, 0x03}).kind == StepResult::kContinue);  // lds eax, [ebx]
  CHECK(m.vcpu.gpr[kEax] == 0x44);
  CHECK(m.vcpu.seg[kDs].base == 0x20000);
}

TEST_CASE("sysenter_enters_cpl0_flat_and_sysexit_returns_to_cpl3") {
  Machine m;
  m.vcpu.sysenter_cs = kKernelCode;
  m.vcpu.sysenter_esp = 0x8800;
  m.vcpu.sysenter_eip = 0x7800;
  m.enter_user();
  m.vcpu.eflags |= kFlagIf;
  REQUIRE(m.run({0x0f, 0x34}).kind == StepResult::kContinue);
  CHECK(m.vcpu.cpl == 0);
  CHECK(m.vcpu.eip == 0x7800);
  CHECK(m.vcpu.gpr[kEsp] == 0x8800);
  CHECK(m.vcpu.seg[kSs].selector == kKernelData);
  CHECK((m.vcpu.eflags & kFlagIf) == 0);
  m.vcpu.gpr[kEcx] = 0x7000;
  m.vcpu.gpr[kEdx] = 0x40100;
  REQUIRE(m.run({0x0f, 0x35}).kind == StepResult::kContinue);
  CHECK(m.vcpu.cpl == 3);
  CHECK(m.vcpu.seg[kCs].selector == kUserCode);
  CHECK(m.vcpu.seg[kSs].selector == kUserData);
  CHECK(m.vcpu.eip == 0x40100);
}

TEST_CASE("ud2_raises_ud_and_leaves_eip_at_the_instruction") {
  Machine m;
  CHECK(is_fault(m.run({0x0f, 0x0b}), kUd, 0));
  CHECK(m.vcpu.eip == kCodeBase);
}

}  // namespace
}  // namespace btvmm::runtime::test
