// Tests of the monitor's emulation of ordinary memory instructions (runtime/cpu/emulate_memory.h):
// each form is run natively by the host CPU (64-bit mode, 0x67 prefix, on a buffer mapped at the
// same low address the guest uses) and by the emulator, and registers, flags and memory compared.
// Faults, REP progress, stack and segment forms are checked against hand-computed values.
#include <sys/mman.h>

#include <cstring>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "core/stats.h"
#include "runtime/cpu/emulate_memory.h"
#include "test_machine.h"

namespace btvmm::runtime::test {
namespace {

// Guest linear == host address: a buffer at a fixed address below 4 GiB outside ASan's shadow.
constexpr uint32_t kBase = 0x10000000;
constexpr uint32_t kPages = 4;  // the last one is treated as not present
constexpr uint32_t kAbsent = kBase + 3 * 4096;

uint8_t* window() {
  static uint8_t* buf = [] {
    void* p = mmap(reinterpret_cast<void*>(uintptr_t(kBase)), kPages * 4096, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    REQUIRE(p == reinterpret_cast<void*>(uintptr_t(kBase)));
    return static_cast<uint8_t*>(p);
  }();
  return buf;
}

// CpuEnv over the buffer: pages 0-2 present, everything else raises a not-present #PF.
class IdentityEnv final : public CpuEnv {
 public:
  std::optional<GuestException> read_linear(uint32_t la, void* dst, unsigned size, bool user) override {
    if (auto f = check(la, size, false, user)) return f;
    std::memcpy(dst, reinterpret_cast<void*>(uintptr_t(la)), size);
    return std::nullopt;
  }
  std::optional<GuestException> write_linear(uint32_t la, const void* src, unsigned size, bool user) override {
    if (auto f = check(la, size, true, user)) return f;
    std::memcpy(reinterpret_cast<void*>(uintptr_t(la)), src, size);
    return std::nullopt;
  }
  uint32_t io_read(uint16_t, unsigned) override { return 0xffffffffu; }
  void io_write(uint16_t, unsigned, uint32_t) override {}
  void paging_changed(PagingEvent, uint32_t) override {}
  uint64_t host_tsc() override { return 0; }

 private:
  static std::optional<GuestException> check(uint32_t la, unsigned size, bool write, bool user) {
    for (uint64_t a = la; a < uint64_t(la) + size; ++a) {
      if (a < kBase || a >= kAbsent) return GuestException{kPf, true, (write ? 2u : 0u) | (user ? 4u : 0u), uint32_t(a)};
    }
    return std::nullopt;
  }
};

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

uint64_t counter(const char* name) {
  for (const auto& s : stats::snapshot())
    if (s.name == name) return s.value;
  return 0;
}

constexpr uint32_t kCompared = kArithFlags | kFlagDf;

struct Form {
  std::vector<uint8_t> bytes;  // 32-bit guest encoding
  bool bounded_eax = false;    // EAX is a bit offset: keep the bit string inside the buffer
  bool divide = false;         // DIV/IDIV: a dividend and a non-zero divisor that cannot raise #DE
};

std::string hex(const std::vector<uint8_t>& b) {
  std::string s;
  static const char kDigits[] = "0123456789abcdef";
  for (uint8_t x : b) s += {kDigits[x >> 4], kDigits[x & 15], ' '};
  return s;
}

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

TEST_CASE("emulated_cmov_bsf_bsr_imul_mul_div_match_the_host_cpu", "[emulate]") {
  std::vector<Form> forms = {
      {{0x0f, 0xbc, 0x03}}, {{0x0f, 0xbd, 0x03}}, {{0x66, 0x0f, 0xbc, 0x03}}, {{0x66, 0x0f, 0xbd, 0x03}},
      {{0x0f, 0xaf, 0x03}}, {{0x66, 0x0f, 0xaf, 0x13}}, {{0x6b, 0x03, 0x85}}, {{0x66, 0x6b, 0x13, 0x07}},
      {with_u32({0x69, 0x0b}, 0x12345)},
  };
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
  for (const auto& bytes : std::vector<std::vector<uint8_t>>{{0xd9, 0x03}, {0x8e, 0x1b}, {0x0f, 0x01, 0x13}, {0xff, 0x13}}) {
    const auto d = translator::decode(bytes, m.vcpu.eip);
    REQUIRE(d.ok());
    INFO(d.instruction.text());
    CHECK_FALSE(emulate_memory_instruction(m.vcpu, env, d.instruction).has_value());
    CHECK(std::memcmp(m.vcpu.gpr, before.gpr, sizeof before.gpr) == 0);
    CHECK(m.vcpu.eflags == before.eflags);
    CHECK(m.vcpu.eip == before.eip);
  }
  CHECK(counter("cpu.emulate_unsupported") == count + 4);
  const uint64_t emulated = counter("cpu.emulated_memory_instructions");
  const auto d = translator::decode(std::vector<uint8_t>{0x8b, 0x03}, m.vcpu.eip);
  REQUIRE(emulate_memory_instruction(m.vcpu, env, d.instruction).has_value());
  CHECK(counter("cpu.emulated_memory_instructions") == emulated + 1);
}

}  // namespace btvmm::runtime::test
