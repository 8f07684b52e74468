// Tests of system instructions and the CPU model (runtime/cpu/system_instructions.*,
// cpu_model.*): control registers, descriptor-table registers, CPUID, MSRs, TSC.
#include "runtime/cpu/cpu_model.h"
#include "runtime/cpu/system_instructions.h"
#include "tests/runtime/test_machine.h"

namespace btvmm::runtime::test {
namespace {

TEST_CASE("mov_cr0_pg_without_pe_raises_gp0") {
  Machine m;
  m.vcpu.gpr[kEax] = 0x80000000;
  CHECK(is_fault(m.run({0x0f, 0x22, 0xc0}), kGp, 0));
  CHECK(m.vcpu.cr0 == 0x11);
}

TEST_CASE("mov_cr0_enabling_paging_notifies_the_mmu_and_keeps_et") {
  Machine m;
  m.vcpu.gpr[kEax] = 0x80000001;
  REQUIRE(m.run({0x0f, 0x22, 0xc0}).kind == StepResult::kContinue);
  CHECK(m.vcpu.cr0 == 0x80000011);
  REQUIRE(m.env.paging_events.size() == 1);
  CHECK(m.env.paging_events[0].first == PagingEvent::kCr0);
  CHECK(m.vcpu.eip == kCodeBase + 3);
}

TEST_CASE("mov_cr4_with_an_unsupported_bit_raises_gp0_and_pse_pge_are_accepted") {
  Machine m;
  m.vcpu.gpr[kEax] = 1u << 5;  // PAE: not in the model
  CHECK(is_fault(m.run({0x0f, 0x22, 0xe0}), kGp, 0));
  m.vcpu.gpr[kEax] = kCr4Pse | kCr4Pge;
  REQUIRE(m.run({0x0f, 0x22, 0xe0}).kind == StepResult::kContinue);
  CHECK(m.vcpu.cr4 == (kCr4Pse | kCr4Pge));
}

TEST_CASE("mov_cr3_stores_the_base_and_notifies_the_mmu_and_mov_from_cr3_reads_it") {
  Machine m;
  m.vcpu.gpr[kEax] = 0x00123fff;
  REQUIRE(m.run({0x0f, 0x22, 0xd8}).kind == StepResult::kContinue);
  CHECK(m.vcpu.cr3 == 0x00123018);
  REQUIRE(m.env.paging_events.size() == 1);
  CHECK(m.env.paging_events[0].first == PagingEvent::kCr3);
  REQUIRE(m.run({0x0f, 0x20, 0xd9}).kind == StepResult::kContinue);  // mov ecx, cr3
  CHECK(m.vcpu.gpr[kEcx] == 0x00123018);
}

TEST_CASE("mov_to_cr_at_cpl3_raises_gp0") {
  Machine m;
  m.enter_user();
  CHECK(is_fault(m.run({0x0f, 0x22, 0xd8}), kGp, 0));
}

TEST_CASE("dr4_aliases_dr6_unless_cr4_de_makes_it_ud") {
  Machine m;
  m.vcpu.gpr[kEax] = 0;
  REQUIRE(m.run({0x0f, 0x21, 0xe0}).kind == StepResult::kContinue);  // mov eax, dr4
  CHECK(m.vcpu.gpr[kEax] == 0xffff0ff0);
  m.vcpu.cr4 = kCr4De;
  CHECK(is_fault(m.run({0x0f, 0x21, 0xe0}), kUd, 0));
}

TEST_CASE("lgdt_and_lidt_load_the_registers_and_sgdt_stores_them") {
  Machine m;
  m.env.write16(0x6000, 0x1ff);
  m.env.write32(0x6002, 0xc0101000);
  m.vcpu.gpr[kEax] = 0x6000;
  REQUIRE(m.run({0x0f, 0x01, 0x18}).kind == StepResult::kContinue);  // lidt [eax]
  CHECK(m.vcpu.idtr.base == 0xc0101000);
  CHECK(m.vcpu.idtr.limit == 0x1ff);
  m.vcpu.gpr[kEax] = 0x6100;
  REQUIRE(m.run({0x0f, 0x01, 0x00}).kind == StepResult::kContinue);  // sgdt [eax]
  CHECK(m.env.read16(0x6100) == 0x5f);
  CHECK(m.env.read32(0x6102) == kGdtBase);
}

TEST_CASE("lgdt_at_cpl3_raises_gp0_but_sgdt_works") {
  Machine m;
  m.enter_user();
  m.vcpu.gpr[kEax] = 0x6000;
  CHECK(is_fault(m.run({0x0f, 0x01, 0x10}), kGp, 0));
  CHECK(m.run({0x0f, 0x01, 0x00}).kind == StepResult::kContinue);
}

TEST_CASE("ltr_marks_the_tss_busy_and_a_second_ltr_raises_gp_selector") {
  Machine m;
  m.vcpu.tr = null_segment_cache(0);
  m.vcpu.gpr[kEax] = kTssSel;
  REQUIRE(m.run({0x0f, 0x00, 0xd8}).kind == StepResult::kContinue);
  CHECK(m.gdt(kTssSel).type() == kTss32Busy);
  CHECK(m.vcpu.tr.selector == kTssSel);
  CHECK(m.vcpu.tr.base == kTssBase);
  CHECK(is_fault(m.run({0x0f, 0x00, 0xd8}), kGp, kTssSel));
  REQUIRE(m.run({0x0f, 0x00, 0xc9}).kind == StepResult::kContinue);  // str ecx
  CHECK(m.vcpu.gpr[kEcx] == kTssSel);
}

TEST_CASE("lldt_loads_an_ldt_whose_segments_mov_can_then_load") {
  Machine m;
  m.vcpu.gpr[kEax] = kLdtSel;
  REQUIRE(m.run({0x0f, 0x00, 0xd0}).kind == StepResult::kContinue);
  CHECK(m.vcpu.ldtr.base == kLdtBase);
  m.vcpu.gpr[kEax] = kLdtData;
  REQUIRE(m.run({0x8e, 0xe0}).kind == StepResult::kContinue);  // mov fs, ax
  CHECK(m.vcpu.seg[kFs].base == 0x30000);
  CHECK(m.vcpu.seg_base_cache[kFs] == 0x30000);
  m.vcpu.gpr[kEax] = kKernelData;  // not an LDT descriptor
  CHECK(is_fault(m.run({0x0f, 0x00, 0xd0}), kGp, kKernelData));
}

TEST_CASE("smsw_lmsw_and_clts_follow_the_sdm") {
  Machine m;
  m.vcpu.cr0 |= kCr0Ts;
  REQUIRE(m.run({0x0f, 0x01, 0xe0}).kind == StepResult::kContinue);  // smsw eax
  CHECK(m.vcpu.gpr[kEax] == m.vcpu.cr0);
  REQUIRE(m.run({0x0f, 0x06}).kind == StepResult::kContinue);  // clts
  CHECK((m.vcpu.cr0 & kCr0Ts) == 0);
  m.vcpu.gpr[kEax] = 0x0000;  // lmsw cannot clear PE
  REQUIRE(m.run({0x0f, 0x01, 0xf0}).kind == StepResult::kContinue);
  CHECK((m.vcpu.cr0 & kCr0Pe) != 0);
}

TEST_CASE("invlpg_passes_the_linear_address_to_the_mmu") {
  Machine m;
  set_segment(m.vcpu, kDs, m.cache_of(kSmallData));  // base 0x20000
  m.vcpu.gpr[kEax] = 0x123;
  REQUIRE(m.run({0x0f, 0x01, 0x38}).kind == StepResult::kContinue);
  REQUIRE(m.env.paging_events.size() == 1);
  CHECK(m.env.paging_events[0].first == PagingEvent::kInvlpg);
  CHECK(m.env.paging_events[0].second == 0x20123);
}

TEST_CASE("rdmsr_of_apic_base_or_an_unknown_msr_raises_gp0") {
  Machine m;
  m.vcpu.gpr[kEcx] = 0x1b;
  CHECK(is_fault(m.run({0x0f, 0x32}), kGp, 0));
  m.vcpu.gpr[kEcx] = 0x3a;
  CHECK(is_fault(m.run({0x0f, 0x32}), kGp, 0));
}

TEST_CASE("rdmsr_of_misc_enable_reports_fast_strings_and_at_cpl3_raises_gp0") {
  Machine m;
  m.vcpu.gpr[kEcx] = kMsrMiscEnable;
  REQUIRE(m.run({0x0f, 0x32}).kind == StepResult::kContinue);
  CHECK(m.vcpu.gpr[kEax] == 1);
  CHECK(m.vcpu.gpr[kEdx] == 0);
  m.enter_user();
  CHECK(is_fault(m.run({0x0f, 0x32}), kGp, 0));
}

TEST_CASE("wrmsr_tsc_sets_the_guest_tsc_that_rdtsc_reads") {
  Machine m;
  m.vcpu.gpr[kEcx] = kMsrTsc;
  m.vcpu.gpr[kEdx] = 1;
  m.vcpu.gpr[kEax] = 0;
  REQUIRE(m.run({0x0f, 0x30}).kind == StepResult::kContinue);
  m.env.tsc += 500;
  REQUIRE(m.run({0x0f, 0x31}).kind == StepResult::kContinue);
  CHECK(m.vcpu.gpr[kEdx] == 1);
  CHECK(m.vcpu.gpr[kEax] == 500);
}

TEST_CASE("sysenter_msrs_round_trip") {
  Machine m;
  m.vcpu.gpr[kEcx] = kMsrSysenterEip;
  m.vcpu.gpr[kEax] = 0xc0001234;
  m.vcpu.gpr[kEdx] = 0;
  REQUIRE(m.run({0x0f, 0x30}).kind == StepResult::kContinue);
  m.vcpu.gpr[kEax] = 0;
  REQUIRE(m.run({0x0f, 0x32}).kind == StepResult::kContinue);
  CHECK(m.vcpu.gpr[kEax] == 0xc0001234);
}

TEST_CASE("rdtsc_at_cpl3_with_cr4_tsd_raises_gp0") {
  Machine m;
  m.vcpu.cr4 = kCr4Tsd;
  m.enter_user();
  CHECK(is_fault(m.run({0x0f, 0x31}), kGp, 0));
  m.vcpu.cr4 = 0;
  CHECK(m.run({0x0f, 0x31}).kind == StepResult::kContinue);
}

TEST_CASE("hlt_at_cpl3_raises_gp0_and_rdpmc_always_raises_gp0") {
  Machine m;
  CHECK(is_fault(m.run({0x0f, 0x33}), kGp, 0));
  m.enter_user();
  CHECK(is_fault(m.run({0xf4}), kGp, 0));
  CHECK_FALSE(m.vcpu.halted);
}

}  // namespace
}  // namespace btvmm::runtime::test
