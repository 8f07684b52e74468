// Tests of the monitor's emulation of ordinary memory instructions (runtime/cpu/emulate_memory.h):
// each form is run natively by the host CPU (64-bit mode, 0x67 prefix, on a buffer mapped at the
// same low address the guest uses) and by the emulator, and registers, flags and memory compared.
#include <sys/mman.h>

#include <cstring>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "core/stats.h"
#include "runtime/cpu/emulate_memory.h"
#include "emulate_test_env.h"
#include "test_machine.h"

namespace btvmm::runtime::test {
namespace {

// Host-side register file of the native runner: EAX..EDI (ESP unused) and RFLAGS.
struct HostRegs {
  uint64_t gpr[8];
  uint64_t flags;
};

// Builds `push rbx/rbp/r15; load flags and registers from [rdi]; <insn>; store; restore; ret`.
void run_native(const std::vector<uint8_t>& insn, HostRegs* regs) {
  std::vector<uint8_t> code = {0x53, 0x55, 0x41, 0x57, 0x49, 0x89, 0xff, 0x41, 0xff, 0x77, 0x40, 0x9d};
  for (uint8_t r = 0; r < 8; ++r) {
    if (r == kEsp) continue;
    code.insert(code.end(), {0x41, 0x8b, uint8_t(0x47 | (r << 3)), uint8_t(r * 8)});
  }
  code.insert(code.end(), insn.begin(), insn.end());
  for (uint8_t r = 0; r < 8; ++r) {
    if (r == kEsp) continue;
    code.insert(code.end(), {0x41, 0x89, uint8_t(0x47 | (r << 3)), uint8_t(r * 8)});
  }
  code.insert(code.end(), {0x9c, 0x41, 0x8f, 0x47, 0x40, 0xfc, 0x41, 0x5f, 0x5d, 0x5b, 0xc3});
  static void* page = [] {
    void* p = mmap(nullptr, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(p != MAP_FAILED);
    return p;
  }();
  std::memcpy(page, code.data(), code.size());
  reinterpret_cast<void (*)(HostRegs*)>(page)(regs);
}

constexpr uint32_t kCompared = kArithFlags | kFlagDf;

struct Form {
  std::vector<uint8_t> bytes;  // 32-bit guest encoding
  bool bounded_eax = false;    // EAX is a bit offset: keep the bit string inside the buffer
  bool divide = false;         // DIV/IDIV: a dividend and a non-zero divisor that cannot raise #DE
  bool long_string = false;    // REP counts up to 1000 from the middle page, ESI/EDI often overlapping
};

std::string hex(const std::vector<uint8_t>& b) {
  std::string s;
  static const char kDigits[] = "0123456789abcdef";
  for (uint8_t x : b) s += {kDigits[x >> 4], kDigits[x & 15], ' '};
  return s;
}

unsigned runs_seen = 0;  // REP MOVS/STOS runs done as one access (IdentityEnv::runs), all forms

// Runs `form` natively and emulated from the same random state and compares everything.
void compare_with_host(Machine& m, const Form& form, std::mt19937& rng, uint32_t seed) {
  uint8_t* buf = window();
  std::vector<uint8_t> init(3 * 4096);
  for (auto& b : init) b = uint8_t(rng());
  uint32_t gpr[8];
  for (auto& r : gpr) r = rng();
  gpr[kEbx] = kBase + 0x800 + (rng() & 0x7f);
  gpr[kEsi] = kBase + 0x400 + (rng() & 0x3f);
  gpr[kEdi] = kBase + 0xa00 + (rng() & 0x3f);
  gpr[kEcx] = rng() % 40;  // REP counts and CL shift counts, masked ones (> 31) included
  gpr[kEsp] = 0;
  if (form.long_string) {
    // Up to 1000 elements of up to 4 bytes either way from the middle page stay inside pages 0-2.
    gpr[kEsi] = kBase + 4096 + (rng() & 4095);
    gpr[kEdi] = (rng() % 3 == 0) ? gpr[kEsi] + (rng() % 17) - 8 : kBase + 4096 + (rng() & 4095);
    gpr[kEcx] = rng() % 1001;
  }
  if (form.bounded_eax) gpr[kEax] = uint32_t(int32_t(rng() % 4096) - 2048);
  // Half the time the memory at [EBX] and [EDI] equals EAX, so equal compares are exercised too.
  if (rng() & 1) {
    std::memcpy(&init[gpr[kEbx] - kBase], &gpr[kEax], 4);
    std::memcpy(&init[gpr[kEdi] - kBase], &gpr[kEax], 4);
  }
  if (form.divide) {
    gpr[kEax] &= 0x7fff007f;  // AH, DX, EDX zero and AL, AX, EAX positive: every quotient fits
    gpr[kEdx] = 0;
    init[gpr[kEbx] - kBase] |= 1;
  }
  const uint32_t flags = (rng() & kCompared) | kFlagFixed1;

  std::memcpy(buf, init.data(), init.size());
  HostRegs host{};
  for (int r = 0; r < 8; ++r) host.gpr[r] = gpr[r];
  host.flags = flags;
  std::vector<uint8_t> native = {0x67};
  native.insert(native.end(), form.bytes.begin(), form.bytes.end());
  run_native(native, &host);
  const std::vector<uint8_t> native_mem(buf, buf + init.size());

  std::memcpy(buf, init.data(), init.size());
  IdentityEnv env;
  std::copy(gpr, gpr + 8, m.vcpu.gpr);
  m.vcpu.eip = kCodeBase;
  m.vcpu.eflags = flags | kFlagIf;
  const auto d = translator::decode(form.bytes, m.vcpu.eip);
  REQUIRE(d.ok());
  INFO("seed " << seed << ": " << d.instruction.text() << " (" << hex(form.bytes) << ")");
  const auto r = emulate_memory_instruction(m.vcpu, env, d.instruction);
  runs_seen += env.runs;
  REQUIRE(r.has_value());
  REQUIRE(r->kind == StepResult::kContinue);
  CHECK(m.vcpu.eip == d.instruction.next_eip());
  for (int i = 0; i < 8; ++i) {
    if (i == kEsp) continue;
    INFO("register " << i);
    CHECK(m.vcpu.gpr[i] == uint32_t(host.gpr[i]));
  }
  CHECK((m.vcpu.eflags & kCompared) == (uint32_t(host.flags) & kCompared));
  CHECK((m.vcpu.eflags & kFlagIf) != 0);
  CHECK(std::memcmp(buf, native_mem.data(), native_mem.size()) == 0);
}

void sweep(const std::vector<Form>& forms, int rounds) {
  const uint32_t seed = std::random_device{}();
  std::mt19937 rng(seed);
  Machine m;  // segments and descriptor tables only: memory comes from IdentityEnv
  for (const auto& f : forms)
    for (int i = 0; i < rounds; ++i) compare_with_host(m, f, rng, seed);
}

std::vector<uint8_t> with_u32(std::vector<uint8_t> b, uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(uint8_t(v >> (8 * i)));
  return b;
}

}  // namespace

TEST_CASE("emulated_mov_movzx_movsx_match_the_host_cpu", "[emulate]") {
  std::vector<Form> forms = {
      {{0x89, 0x03}}, {{0x8b, 0x03}}, {{0x88, 0x23}}, {{0x8a, 0x0b}}, {{0x8a, 0x3b}}, {{0x66, 0x89, 0x13}},
      {{0x66, 0x8b, 0x33}}, {{0xc6, 0x43, 0x05, 0x7f}}, {{0x66, 0xc7, 0x03, 0x34, 0x12}},
      {with_u32({0xc7, 0x03}, 0xdeadbeef)}, {with_u32({0xc7, 0x44, 0x8b, 0x10}, 0x12345678)},
      {with_u32({0xa1}, kBase + 0x900)}, {with_u32({0xa3}, kBase + 0x904)}, {with_u32({0xa0}, kBase + 0x909)},
      {with_u32({0xa2}, kBase + 0x90b)}, {with_u32({0x66, 0xa1}, kBase + 0x90d)},
      {{0x0f, 0xb6, 0x03}}, {{0x0f, 0xb7, 0x03}}, {{0x0f, 0xbe, 0x03}}, {{0x0f, 0xbf, 0x03}},
      {{0x66, 0x0f, 0xbe, 0x03}}, {{0x66, 0x0f, 0xb6, 0x13}}, {{0x0f, 0xbe, 0x4b, 0x01}},
  };
  sweep(forms, 16);
}

TEST_CASE("emulated_alu_results_and_all_six_flags_match_the_host_cpu", "[emulate]") {
  std::vector<Form> forms;
  for (uint8_t op = 0; op < 8; ++op) {
    const uint8_t modrm = uint8_t((op << 3) | 0x03);  // /op [ebx]
    for (uint8_t dir = 0; dir < 4; ++dir) forms.push_back({{uint8_t(op * 8 + dir), 0x03}});
    forms.push_back({{0x66, uint8_t(op * 8 + 1), 0x13}});
    forms.push_back({{0x66, uint8_t(op * 8 + 3), 0x13}});
    forms.push_back({{0x80, modrm, 0x81}});
    forms.push_back({{0x83, modrm, 0xf0}});
    forms.push_back({{0x83, modrm, 0x01}});
    forms.push_back({with_u32({0x81, modrm}, 0x80000000u)});
    forms.push_back({{0x66, 0x81, modrm, 0xff, 0x7f}});
    forms.push_back({{0x66, 0x83, modrm, 0x80}});
  }
  for (const auto& t : std::vector<std::vector<uint8_t>>{{0x84, 0x03}, {0x85, 0x03}, {0x66, 0x85, 0x03}, {0xf6, 0x03, 0x80},
                                                         {0xf7, 0x03, 0x01, 0x00, 0x00, 0x80}, {0x66, 0xf7, 0x03, 0xff, 0x00}})
    forms.push_back({t});
  sweep(forms, 24);
}

TEST_CASE("emulated_inc_dec_neg_not_and_shifts_match_the_host_cpu", "[emulate]") {
  std::vector<Form> forms;
  for (uint8_t reg = 0; reg < 4; ++reg) {  // fe/ff /0 inc, /1 dec; f6/f7 /2 not, /3 neg
    const uint8_t modrm = uint8_t((reg << 3) | 0x03);
    const uint8_t base = reg < 2 ? 0xfe : 0xf6;
    forms.push_back({{base, modrm}});
    forms.push_back({{uint8_t(base + 1), modrm}});
    forms.push_back({{0x66, uint8_t(base + 1), modrm}});
  }
  for (uint8_t r = 0; r < 8; ++r) {
    if (r == 6) continue;  // /6 is an undocumented alias of SHL
    const uint8_t modrm = uint8_t((r << 3) | 0x03);
    for (uint8_t count : {0, 1, 3, 8, 17, 31, 33}) {
      forms.push_back({{0xc0, modrm, count}});
      forms.push_back({{0xc1, modrm, count}});
      forms.push_back({{0x66, 0xc1, modrm, count}});
    }
    for (uint8_t opc : {0xd0, 0xd1, 0xd2, 0xd3}) forms.push_back({{opc, modrm}});
    forms.push_back({{0x66, 0xd3, modrm}});
  }
  sweep(forms, 12);
}

TEST_CASE("emulated_xchg_cmpxchg_xadd_bit_tests_and_setcc_match_the_host_cpu", "[emulate]") {
  std::vector<Form> forms = {
      {{0x87, 0x03}}, {{0x86, 0x23}}, {{0x66, 0x87, 0x13}}, {{0x87, 0x1b}},  // xchg [ebx], ebx: old address
      {{0x0f, 0xb1, 0x0b}}, {{0x0f, 0xb0, 0x0b}}, {{0x66, 0x0f, 0xb1, 0x0b}}, {{0x0f, 0xb1, 0x1b}},
      {{0x0f, 0xc1, 0x03}}, {{0x0f, 0xc0, 0x2b}}, {{0x66, 0x0f, 0xc1, 0x03}}, {{0x0f, 0xc1, 0x1b}},
      {{0xf0, 0x0f, 0xb1, 0x0b}}, {{0xf0, 0x0f, 0xc1, 0x03}}, {{0xf0, 0x01, 0x03}}, {{0xf0, 0x0f, 0xab, 0x03}, true},
  };
  for (uint8_t opc : {0xa3, 0xab, 0xb3, 0xbb}) {  // bt, bts, btr, btc [ebx], eax with a signed bit offset
    forms.push_back({{0x0f, opc, 0x03}, true});
    forms.push_back({{0x66, 0x0f, opc, 0x03}, true});
  }
  for (uint8_t r = 4; r < 8; ++r) {
    forms.push_back({{0x0f, 0xba, uint8_t((r << 3) | 0x03), 0x25}});
    forms.push_back({{0x66, 0x0f, 0xba, uint8_t((r << 3) | 0x03), 0x1f}});
  }
  for (uint8_t cc = 0; cc < 16; ++cc) forms.push_back({{0x0f, uint8_t(0x90 + cc), 0x03}});
  sweep(forms, 24);
}

TEST_CASE("emulated_cmov_bsf_bsr_imul_mul_div_shld_shrd_match_the_host_cpu", "[emulate]") {
  std::vector<Form> forms = {
      {{0x0f, 0xbc, 0x03}}, {{0x0f, 0xbd, 0x03}}, {{0x66, 0x0f, 0xbc, 0x03}}, {{0x66, 0x0f, 0xbd, 0x03}},
      {{0x0f, 0xaf, 0x03}}, {{0x66, 0x0f, 0xaf, 0x13}}, {{0x6b, 0x03, 0x85}}, {{0x66, 0x6b, 0x13, 0x07}},
      {with_u32({0x69, 0x0b}, 0x12345)},
  };
  for (uint8_t count : {0, 1, 5, 16, 31, 40}) {  // shld/shrd [ebx], edx/dx, imm8
    forms.push_back({{0x0f, 0xa4, 0x13, count}});
    forms.push_back({{0x0f, 0xac, 0x13, count}});
    forms.push_back({{0x66, 0x0f, 0xa4, 0x13, count}});
  }
  for (uint8_t opc : {0xa5, 0xad}) {  // shld/shrd [ebx], edx, cl
    forms.push_back({{0x0f, opc, 0x13}});
    forms.push_back({{0x66, 0x0f, opc, 0x13}});
  }
  for (uint8_t cc = 0; cc < 16; ++cc) {
    forms.push_back({{0x0f, uint8_t(0x40 + cc), 0x03}});
    forms.push_back({{0x66, 0x0f, uint8_t(0x40 + cc), 0x13}});
  }
  for (uint8_t r = 4; r < 8; ++r) {  // mul, imul, div, idiv (f6/f7 /4../7)
    const uint8_t modrm = uint8_t((r << 3) | 0x03);
    const bool divide = r >= 6;
    forms.push_back({{0xf6, modrm}, false, divide});
    forms.push_back({{0xf7, modrm}, false, divide});
    forms.push_back({{0x66, 0xf7, modrm}, false, divide});
  }
  sweep(forms, 24);
}

TEST_CASE("emulated_string_instructions_with_rep_and_df_match_the_host_cpu", "[emulate]") {
  std::vector<Form> forms;
  for (uint8_t opc : {0xa4, 0xa5, 0xa6, 0xa7, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf}) {
    forms.push_back({{opc}});
    forms.push_back({{0xf3, opc}});
    forms.push_back({{0x66, 0xf3, opc}});
    if ((opc & 0xf6) == 0xa6) forms.push_back({{0xf2, opc}});  // REPNE: CMPS and SCAS
  }
  sweep(forms, 24);
}

// Page-long runs (one copy or fill per page, emulate_string.cpp) must give exactly what the
// element loop gives: both directions, every element size, runs that cross into the next page,
// and overlapping MOVS (which replicate bytes and so must not be done as one copy).
TEST_CASE("emulated_long_rep_movs_and_stos_match_the_host_cpu_across_pages_and_overlaps", "[emulate]") {
  std::vector<Form> forms;
  for (uint8_t opc : {0xa4, 0xa5, 0xaa, 0xab}) {
    forms.push_back({{0xf3, opc}, false, false, true});
    forms.push_back({{0x66, 0xf3, opc}, false, false, true});
  }
  const unsigned before = runs_seen;
  sweep(forms, 40);
  CHECK(runs_seen > before);  // the runs were taken, not only the element loop
}

}  // namespace btvmm::runtime::test
