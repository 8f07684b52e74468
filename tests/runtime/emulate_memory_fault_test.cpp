// Tests of the monitor's emulation of ordinary memory instructions against hand-computed values:
// faults commit nothing, REP progress at a fault, stack forms, segment overrides and limits,
// 16-bit addressing, #DE, and the unsupported outcome.
#include <cstring>
#include <optional>
#include <vector>

#include <catch2/catch.hpp>

#include "emulate_test_env.h"
#include "runtime/cpu/emulate_memory.h"
#include "test_machine.h"

namespace btvmm::runtime::test {

TEST_CASE("emulated_dword_write_straddling_into_an_absent_page_faults_and_commits_nothing", "[emulate]") {
  uint8_t* buf = window();
  std::memset(buf, 0x5a, 3 * 4096);
  Machine m;
  IdentityEnv env;
  m.vcpu.gpr[kEbx] = kAbsent - 2;
  m.vcpu.gpr[kEax] = 0x11223344;
  m.vcpu.eflags = kFlagFixed1 | kFlagIf;
  const uint32_t eip = m.vcpu.eip;
  for (const auto& bytes : std::vector<std::vector<uint8_t>>{{0x89, 0x03}, {0x01, 0x03}, {0x0f, 0xc1, 0x03}, {0x87, 0x03}}) {
    const auto d = translator::decode(bytes, eip);
    REQUIRE(d.ok());
    INFO(d.instruction.text());
    const auto r = emulate_memory_instruction(m.vcpu, env, d.instruction);
    REQUIRE(r.has_value());
    CHECK(is_fault(*r, kPf, 2));  // not present, write (RMW loads report a write, SDM vol. 3 4.7)
    CHECK(r->exception.cr2 == kAbsent);
    CHECK(m.vcpu.eip == eip);
    CHECK(m.vcpu.gpr[kEax] == 0x11223344);
    CHECK(m.vcpu.eflags == (kFlagFixed1 | kFlagIf));
    CHECK(buf[kAbsent - kBase - 2] == 0x5a);
    CHECK(buf[kAbsent - kBase - 1] == 0x5a);
  }
  const auto load = translator::decode(std::vector<uint8_t>{0x8b, 0x03}, eip);
  const auto r = emulate_memory_instruction(m.vcpu, env, load.instruction);
  REQUIRE(r.has_value());
  CHECK(is_fault(*r, kPf, 0));
}

TEST_CASE("rep_movs_faulting_midway_leaves_ecx_esi_edi_at_the_faulting_element", "[emulate]") {
  uint8_t* buf = window();
  for (uint32_t i = 0; i < 3 * 4096; ++i) buf[i] = uint8_t(i * 7);
  Machine m;
  IdentityEnv env;
  // 10 dwords from +0x100 to 12 bytes before the absent page: elements 0-2 fit, element 3 faults.
  m.vcpu.gpr[kEsi] = kBase + 0x100;
  m.vcpu.gpr[kEdi] = kAbsent - 12;
  m.vcpu.gpr[kEcx] = 10;
  const uint32_t eip = m.vcpu.eip;
  const auto d = translator::decode(std::vector<uint8_t>{0xf3, 0xa5}, eip);
  const auto r = emulate_memory_instruction(m.vcpu, env, d.instruction);
  REQUIRE(r.has_value());
  CHECK(is_fault(*r, kPf, 2));
  CHECK(r->exception.cr2 == kAbsent);
  CHECK(m.vcpu.eip == eip);
  CHECK(m.vcpu.gpr[kEcx] == 7);
  CHECK(m.vcpu.gpr[kEsi] == kBase + 0x100 + 12);
  CHECK(m.vcpu.gpr[kEdi] == kAbsent);
  CHECK(std::memcmp(buf + (kAbsent - kBase - 12), buf + 0x100, 12) == 0);

  // The same backwards (DF=1): the source runs off the bottom of the buffer after 2 elements.
  m.vcpu.eflags |= kFlagDf;
  m.vcpu.gpr[kEsi] = kBase + 4;
  m.vcpu.gpr[kEdi] = kBase + 0x800;
  m.vcpu.gpr[kEcx] = 5;
  const auto back = emulate_memory_instruction(m.vcpu, env, d.instruction);
  REQUIRE(back.has_value());
  CHECK(is_fault(*back, kPf, 0));
  CHECK(back->exception.cr2 == kBase - 4);
  CHECK(m.vcpu.gpr[kEcx] == 3);
  CHECK(m.vcpu.gpr[kEsi] == kBase - 4);
  CHECK(m.vcpu.gpr[kEdi] == kBase + 0x800 - 8);
}

TEST_CASE("emulated_push_and_pop_of_memory_use_the_architectural_esp", "[emulate]") {
  uint8_t* buf = window();
  Machine m;
  IdentityEnv env;
  const uint32_t top = kBase + 0x2000;
  m.vcpu.gpr[kEsp] = top;
  m.vcpu.gpr[kEbx] = kBase + 0x100;
  const uint32_t v = 0xcafef00d;
  std::memcpy(buf + 0x100, &v, 4);
  auto run = [&](std::vector<uint8_t> bytes) {
    const auto d = translator::decode(bytes, m.vcpu.eip);
    REQUIRE(d.ok());
    const auto r = emulate_memory_instruction(m.vcpu, env, d.instruction);
    REQUIRE(r.has_value());
    return *r;
  };
  CHECK(run({0xff, 0x33}).kind == StepResult::kContinue);  // push dword [ebx]
  CHECK(m.vcpu.gpr[kEsp] == top - 4);
  uint32_t got = 0;
  std::memcpy(&got, buf + (top - 4 - kBase), 4);
  CHECK(got == v);
  // pop dword [esp]: ESP is incremented before the address is formed (SDM vol. 2 POP).
  CHECK(run({0x8f, 0x04, 0x24}).kind == StepResult::kContinue);
  CHECK(m.vcpu.gpr[kEsp] == top);
  std::memcpy(&got, buf + (top - kBase), 4);
  CHECK(got == v);
  // push dword [esp+4]: the address uses ESP before the decrement.
  std::memcpy(buf + (top + 4 - kBase), &v, 4);
  CHECK(run({0xff, 0x74, 0x24, 0x04}).kind == StepResult::kContinue);
  std::memcpy(&got, buf + (top - 4 - kBase), 4);
  CHECK(got == v);
  // pop into an absent page: #PF, ESP unchanged.
  m.vcpu.gpr[kEbx] = kAbsent;
  const uint32_t esp = m.vcpu.gpr[kEsp];
  CHECK(is_fault(run({0x8f, 0x03}), kPf, 2));
  CHECK(m.vcpu.gpr[kEsp] == esp);
}

TEST_CASE("emulated_accesses_apply_segment_overrides_bases_and_limits", "[emulate]") {
  uint8_t* buf = window();
  Machine m;
  IdentityEnv env;
  m.vcpu.seg[kFs] = m.vcpu.seg[kDs];
  m.vcpu.seg[kFs].base = kBase + 0x1000;
  m.vcpu.seg[kFs].limit = 0xfff;
  m.vcpu.seg[kSs].limit = kBase + 0x1fff;
  const uint32_t v = 0x01020304;
  std::memcpy(buf + 0x1010, &v, 4);
  m.vcpu.gpr[kEbx] = 0x10;
  auto run = [&](std::vector<uint8_t> bytes) {
    const auto d = translator::decode(bytes, m.vcpu.eip);
    REQUIRE(d.ok());
    const auto r = emulate_memory_instruction(m.vcpu, env, d.instruction);
    REQUIRE(r.has_value());
    return *r;
  };
  CHECK(run({0x64, 0x8b, 0x03}).kind == StepResult::kContinue);  // mov eax, fs:[ebx]
  CHECK(m.vcpu.gpr[kEax] == v);
  m.vcpu.gpr[kEsi] = 0x10;
  m.vcpu.gpr[kEdi] = kBase + 0x200;
  CHECK(run({0x64, 0xa5}).kind == StepResult::kContinue);  // movs dword es:[edi], fs:[esi]
  uint32_t got = 0;
  std::memcpy(&got, buf + 0x200, 4);
  CHECK(got == v);
  m.vcpu.gpr[kEbx] = 0xffe;  // last dword byte beyond the limit
  CHECK(is_fault(run({0x64, 0x8b, 0x03}), kGp, 0));
  m.vcpu.gpr[kEbp] = kBase + 0x1ffe;  // [ebp] defaults to SS: #SS(0)
  CHECK(is_fault(run({0x8b, 0x45, 0x00}), kSsFault, 0));
}

TEST_CASE("instructions_not_emulated_are_reported_unsupported_and_change_nothing", "[emulate]") {
  window();
  Machine m;
  IdentityEnv env;
  m.vcpu.gpr[kEbx] = kBase + 0x100;
  const VcpuState before = m.vcpu;
  const uint64_t count = counter("cpu.emulate_unsupported");
  // lgdt [ebx] and call [ebx] are the CPU-semantics code's (callout and control flow), never this.
  for (const auto& bytes : std::vector<std::vector<uint8_t>>{{0x0f, 0x01, 0x13}, {0xff, 0x13}}) {
    const auto d = translator::decode(bytes, m.vcpu.eip);
    REQUIRE(d.ok());
    INFO(d.instruction.text());
    CHECK_FALSE(emulate_memory_instruction(m.vcpu, env, d.instruction).has_value());
    CHECK(std::memcmp(m.vcpu.gpr, before.gpr, sizeof before.gpr) == 0);
    CHECK(m.vcpu.eflags == before.eflags);
    CHECK(m.vcpu.eip == before.eip);
  }
  CHECK(counter("cpu.emulate_unsupported") == count + 2);
  const uint64_t emulated = counter("cpu.emulated_memory_instructions");
  const auto d = translator::decode(std::vector<uint8_t>{0x8b, 0x03}, m.vcpu.eip);
  REQUIRE(emulate_memory_instruction(m.vcpu, env, d.instruction).has_value());
  CHECK(counter("cpu.emulated_memory_instructions") == emulated + 1);
}

TEST_CASE("emulated_divide_overflow_and_divide_by_zero_raise_de_and_change_nothing", "[emulate]") {
  uint8_t* buf = window();
  Machine m;
  IdentityEnv env;
  m.vcpu.gpr[kEbx] = kBase + 0x100;
  struct Case {
    std::vector<uint8_t> bytes;
    uint32_t eax, edx, divisor;
  };
  const std::vector<Case> cases = {
      {{0xf7, 0x33}, 5, 0, 0},                    // div dword by zero
      {{0xf7, 0x33}, 0, 2, 2},                    // EDX:EAX / 2 = 2^32: too large
      {{0xf7, 0x3b}, 0, 0x80000000u, 0xffffffffu},  // idiv: -2^63 / -1
      {{0xf7, 0x3b}, 0x80000000u, 0xffffffffu, 0xffffffffu},  // idiv: -2^31 / -1 = 2^31 does not fit
      {{0xf6, 0x33}, 0x0200, 0, 2},               // div byte: AX 512 / 2 = 256 does not fit
      {{0xf6, 0x3b}, 0xff80, 0, 0xff},            // idiv byte: -128 / -1
      {{0x66, 0xf7, 0x3b}, 0x8000, 0xffff, 0xffff},  // idiv word: -32768 / -1
  };
  for (const auto& c : cases) {
    std::memcpy(buf + 0x100, &c.divisor, 4);
    m.vcpu.gpr[kEax] = c.eax;
    m.vcpu.gpr[kEdx] = c.edx;
    m.vcpu.eflags = kFlagFixed1;
    const auto d = translator::decode(c.bytes, m.vcpu.eip);
    REQUIRE(d.ok());
    INFO(d.instruction.text() << " eax " << c.eax << " edx " << c.edx << " divisor " << c.divisor);
    const auto r = emulate_memory_instruction(m.vcpu, env, d.instruction);
    REQUIRE(r.has_value());
    CHECK(r->kind == StepResult::kException);
    CHECK(r->exception.vector == kDe);
    CHECK(m.vcpu.gpr[kEax] == c.eax);
    CHECK(m.vcpu.gpr[kEdx] == c.edx);
    CHECK(m.vcpu.eflags == kFlagFixed1);
  }
}

TEST_CASE("emulated_16_bit_addressing_uses_bx_si_di_cx_and_keeps_their_upper_halves", "[emulate]") {
  uint8_t* buf = window();
  Machine m;
  IdentityEnv env;
  for (SegReg r : {kDs, kEs}) m.vcpu.seg[r].base = kBase;
  const uint32_t v = 0x44332211;
  std::memcpy(buf + 0x10, &v, 4);
  m.vcpu.gpr[kEbx] = 0xffff0010;  // only BX counts with a 0x67 prefix (SDM vol. 2 table 2-1)
  auto run = [&](std::vector<uint8_t> bytes) {
    const auto d = translator::decode(bytes, m.vcpu.eip);
    REQUIRE(d.ok());
    const auto r = emulate_memory_instruction(m.vcpu, env, d.instruction);
    REQUIRE(r.has_value());
    return *r;
  };
  CHECK(run({0x67, 0x8b, 0x07}).kind == StepResult::kContinue);  // mov eax, [bx]
  CHECK(m.vcpu.gpr[kEax] == v);
  m.vcpu.gpr[kEdi] = 0xabcd0100;
  m.vcpu.gpr[kEcx] = 0x12340003;
  m.vcpu.gpr[kEax] = 0x77;
  CHECK(run({0x67, 0xf3, 0xaa}).kind == StepResult::kContinue);  // rep stosb es:[di], cx = 3
  CHECK(m.vcpu.gpr[kEdi] == 0xabcd0103);
  CHECK(m.vcpu.gpr[kEcx] == 0x12340000);
  CHECK(buf[0x100] == 0x77);
  CHECK(buf[0x102] == 0x77);
  CHECK(buf[0x103] != 0x77);
}

TEST_CASE("rep_string_with_zero_count_touches_nothing_and_advances_eip", "[emulate]") {
  window();
  Machine m;
  IdentityEnv env;
  m.vcpu.gpr[kEcx] = 0;
  m.vcpu.gpr[kEsi] = 0;  // would fault if read
  m.vcpu.gpr[kEdi] = 0;
  const auto d = translator::decode(std::vector<uint8_t>{0xf3, 0xa5}, m.vcpu.eip);
  const auto r = emulate_memory_instruction(m.vcpu, env, d.instruction);
  REQUIRE(r.has_value());
  CHECK(r->kind == StepResult::kContinue);
  CHECK(m.vcpu.eip == d.instruction.next_eip());
  CHECK(m.vcpu.gpr[kEsi] == 0);
}

namespace {
// Non-existent memory as a PC's bus sees it: reads all ones, writes dropped (counted).
class AbsentMemoryEnv final : public CpuEnv {
 public:
  uint64_t writes = 0;
  std::optional<GuestException> read_linear(uint32_t, void* dst, unsigned size, bool) override {
    std::memset(dst, 0xff, size);
    return std::nullopt;
  }
  std::optional<GuestException> write_linear(uint32_t, const void*, unsigned, bool) override {
    ++writes;
    return std::nullopt;
  }
  uint32_t io_read(uint16_t, unsigned) override { return 0xffffffffu; }
  void io_write(uint16_t, unsigned, uint32_t) override {}
  void paging_changed(PagingEvent, uint32_t) override {}
  uint64_t host_tsc() override { return 0; }
};
}  // namespace

TEST_CASE("long_rep_stos_yields_after_the_iteration_cap_with_eip_at_the_instruction", "[emulate]") {
  Machine m;
  AbsentMemoryEnv env;
  m.vcpu.gpr[kEcx] = kMaxStringIterations + 10;
  m.vcpu.gpr[kEdi] = 0x1000;
  const uint32_t eip = m.vcpu.eip;
  const auto d = translator::decode(std::vector<uint8_t>{0xf3, 0xab}, eip);
  auto r = emulate_memory_instruction(m.vcpu, env, d.instruction);
  REQUIRE(r.has_value());
  CHECK(r->kind == StepResult::kContinue);
  CHECK(m.vcpu.eip == eip);  // resumes like an interrupted REP (SDM vol. 2 REP)
  CHECK(m.vcpu.gpr[kEcx] == 10);
  CHECK(m.vcpu.gpr[kEdi] == 0x1000 + 4 * kMaxStringIterations);
  r = emulate_memory_instruction(m.vcpu, env, d.instruction);
  REQUIRE(r.has_value());
  CHECK(r->kind == StepResult::kContinue);
  CHECK(m.vcpu.eip == d.instruction.next_eip());
  CHECK(m.vcpu.gpr[kEcx] == 0);
  CHECK(env.writes == kMaxStringIterations + 10);
}

TEST_CASE("reads_of_non_existent_memory_see_all_ones_through_alu_and_movzx", "[emulate]") {
  Machine m;
  AbsentMemoryEnv env;
  m.vcpu.gpr[kEbx] = 0x40e;  // the BIOS data area word the Linux decompressor reads first
  auto run = [&](std::vector<uint8_t> bytes) {
    const auto d = translator::decode(bytes, m.vcpu.eip);
    REQUIRE(d.ok());
    const auto r = emulate_memory_instruction(m.vcpu, env, d.instruction);
    REQUIRE(r.has_value());
    CHECK(r->kind == StepResult::kContinue);
  };
  run({0x0f, 0xb7, 0x03});  // movzx eax, word [ebx]
  CHECK(m.vcpu.gpr[kEax] == 0xffff);
  m.vcpu.gpr[kEcx] = 1;
  run({0x03, 0x0b});  // add ecx, [ebx]: 1 + 0xffffffff = 0 with CF, ZF, AF, PF
  CHECK(m.vcpu.gpr[kEcx] == 0);
  CHECK((m.vcpu.eflags & kArithFlags) == (kFlagCf | kFlagZf | kFlagAf | kFlagPf));
}

}  // namespace btvmm::runtime::test
