// Tests of port I/O (runtime/cpu/io_instructions.*): IN/OUT, string forms with REP and DF, and
// the I/O permission bitmap of the TSS (Intel SDM vol. 1 19.5).
#include "tests/runtime/test_machine.h"

namespace btvmm::runtime::test {
namespace {

void allow_port(Machine& m, uint16_t port) { m.env.mem[kTssBase + kIoBitmapOffset + port / 8] &= ~(1u << (port % 8)); }

TEST_CASE("in_al_imm8_reads_the_device_and_keeps_the_upper_bits_of_eax") {
  Machine m;
  m.env.port_values[0x60] = 0x1c;
  m.vcpu.gpr[kEax] = 0xaabbccdd;
  REQUIRE(m.run({0xe4, 0x60}).kind == StepResult::kContinue);
  CHECK(m.vcpu.gpr[kEax] == 0xaabbcc1c);
  CHECK(m.vcpu.eip == kCodeBase + 2);
}

TEST_CASE("out_dx_eax_writes_32_bits_to_the_port_in_dx") {
  Machine m;
  m.vcpu.gpr[kEdx] = 0xcf8;
  m.vcpu.gpr[kEax] = 0x80000000;
  REQUIRE(m.run({0xef}).kind == StepResult::kContinue);
  REQUIRE(m.env.writes.size() == 1);
  CHECK(m.env.writes[0] == std::make_pair(uint16_t(0xcf8), uint32_t(0x80000000)));
}

TEST_CASE("out_at_cpl3_checks_tss_io_bitmap") {
  Machine m;
  m.enter_user();
  m.vcpu.gpr[kEax] = 0x41;
  CHECK(is_fault(m.run({0xe6, 0x80}), kGp, 0));  // bit set: denied
  allow_port(m, 0x80);
  REQUIRE(m.run({0xe6, 0x80}).kind == StepResult::kContinue);
  CHECK(m.env.writes.back().first == 0x80);
  // A 16-bit access to 0x80 also needs port 0x81's bit.
  m.vcpu.gpr[kEdx] = 0x80;
  m.vcpu.eip = 0x40000;
  CHECK(is_fault(m.run({0x66, 0xef}), kGp, 0));
  allow_port(m, 0x81);
  CHECK(m.run({0x66, 0xef}).kind == StepResult::kContinue);
}

TEST_CASE("in_at_cpl3_with_iopl3_skips_the_bitmap") {
  Machine m;
  m.enter_user();
  m.vcpu.eflags |= kFlagIopl;
  CHECK(m.run({0xe4, 0x60}).kind == StepResult::kContinue);
}

TEST_CASE("io_bitmap_beyond_the_tss_limit_denies_the_port") {
  Machine m;
  m.enter_user();
  m.vcpu.tr.limit = kIoBitmapOffset + 4;  // covers ports 0..39 only
  allow_port(m, 0x60);
  CHECK(is_fault(m.run({0xe4, 0x60}), kGp, 0));
}

TEST_CASE("rep_outsb_honours_direction_flag") {
  Machine m;
  const char text[] = "abc";
  std::memcpy(&m.env.mem[0x6000], text, 3);
  m.vcpu.gpr[kEdx] = 0x3f8;
  m.vcpu.gpr[kEsi] = 0x6002;
  m.vcpu.gpr[kEcx] = 3;
  m.vcpu.eflags |= kFlagDf;
  REQUIRE(m.run({0xf3, 0x6e}).kind == StepResult::kContinue);
  REQUIRE(m.env.writes.size() == 3);
  CHECK(m.env.writes[0].second == 'c');
  CHECK(m.env.writes[1].second == 'b');
  CHECK(m.env.writes[2].second == 'a');
  CHECK(m.vcpu.gpr[kEsi] == 0x5fff);
  CHECK(m.vcpu.gpr[kEcx] == 0);
}

TEST_CASE("rep_insw_writes_es_edi_and_stops_at_a_fault_with_restartable_registers") {
  Machine m;
  m.env.port_values[0x1f0] = 0xbeef;
  m.vcpu.gpr[kEdx] = 0x1f0;
  m.vcpu.gpr[kEdi] = 0x6ffc;
  m.vcpu.gpr[kEcx] = 4;
  m.env.absent_pages.insert(0x7);
  const auto r = m.run({0x66, 0xf3, 0x6d});
  CHECK(is_fault(r, kPf, 2));
  CHECK(m.env.read16(0x6ffc) == 0xbeef);
  CHECK(m.env.read16(0x6ffe) == 0xbeef);
  CHECK(m.vcpu.gpr[kEdi] == 0x7000);
  CHECK(m.vcpu.gpr[kEcx] == 2);
  CHECK(m.vcpu.eip == kCodeBase);
}

TEST_CASE("outsb_uses_the_segment_override") {
  Machine m;
  set_segment(m.vcpu, kFs, m.cache_of(kSmallData));  // base 0x20000
  m.env.mem[0x20010] = 0x5a;
  m.vcpu.gpr[kEsi] = 0x10;
  m.vcpu.gpr[kEdx] = 0x80;
  REQUIRE(m.run({0x64, 0x6e}).kind == StepResult::kContinue);
  CHECK(m.env.writes.back().second == 0x5a);
  CHECK(m.vcpu.gpr[kEsi] == 0x11);
}

}  // namespace
}  // namespace btvmm::runtime::test
