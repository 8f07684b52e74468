// Tests of the monitor's emulation of stack instructions, memory-sourced segment loads and x87/SSE
// memory operands (runtime/cpu/emulate_stack.cpp, emulate_fpu.cpp) over the flat fake machine:
// hand-computed results from the SDM pseudocode, and faults that change nothing.
#include <cstring>
#include <vector>

#include <catch2/catch.hpp>

#include "runtime/cpu/emulate_memory.h"
#include "runtime/cpu/system_instructions.h"
#include "test_machine.h"

namespace btvmm::runtime::test {
namespace {

constexpr uint32_t kData = 0x20000;

StepResult emulate(Machine& m, std::vector<uint8_t> bytes) {
  const auto d = translator::decode(bytes, m.vcpu.eip);
  REQUIRE(d.ok());
  INFO(d.instruction.text());
  const auto r = emulate_memory_instruction(m.vcpu, m.env, d.instruction);
  REQUIRE(r.has_value());
  return *r;
}

// The FPU/SSE state after FNINIT with MXCSR at its reset value, and CR4.OSFXSR as Linux sets it.
void init_fpu(Machine& m) {
  std::memset(m.vcpu.fxsave, 0, sizeof m.vcpu.fxsave);
  const uint16_t fcw = 0x037f;
  const uint32_t mxcsr = 0x1f80;
  std::memcpy(m.vcpu.fxsave, &fcw, 2);
  std::memcpy(m.vcpu.fxsave + 24, &mxcsr, 4);
  m.vcpu.cr4 |= kCr4Osfxsr;
  m.vcpu.cr0 |= kCr0Ne;
}

uint16_t fsw(const Machine& m) {
  uint16_t v;
  std::memcpy(&v, m.vcpu.fxsave + 2, 2);
  return v;
}

}  // namespace

TEST_CASE("emulated_pushad_then_popad_restores_registers_but_not_esp", "[emulate]") {
  Machine m;
  const uint32_t esp = m.vcpu.gpr[kEsp];
  for (unsigned r = 0; r < kGprCount; ++r) {
    if (r != kEsp) m.vcpu.gpr[r] = 0x1000 + r;
  }
  REQUIRE(emulate(m, {0x60}).kind == StepResult::kContinue);  // pushad
  CHECK(m.vcpu.gpr[kEsp] == esp - 32);
  CHECK(m.env.read32(esp - 4) == 0x1000 + kEax);
  CHECK(m.env.read32(esp - 20) == esp);  // the ESP before the first push
  CHECK(m.env.read32(esp - 32) == 0x1000 + kEdi);
  m.env.write32(esp - 20, 0xdeadbeef);  // POPAD skips the saved ESP
  for (unsigned r = 0; r < kGprCount; ++r) {
    if (r != kEsp) m.vcpu.gpr[r] = 0;
  }
  REQUIRE(emulate(m, {0x61}).kind == StepResult::kContinue);  // popad
  CHECK(m.vcpu.gpr[kEsp] == esp);
  for (unsigned r = 0; r < kGprCount; ++r) {
    if (r != kEsp) CHECK(m.vcpu.gpr[r] == 0x1000 + r);
  }
}

TEST_CASE("emulated_popad_faulting_on_its_last_pop_changes_no_register", "[emulate]") {
  Machine m;
  m.vcpu.gpr[kEsp] = 0x7fe8;  // 8 dwords from 0x7fe8 reach into the absent page at 0x8000
  m.env.absent_pages.insert(0x8);
  m.vcpu.gpr[kEax] = 0xaaaa;
  const VcpuState before = m.vcpu;
  const StepResult r = emulate(m, {0x61});
  CHECK(is_fault(r, kPf, 0));
  CHECK(std::memcmp(m.vcpu.gpr, before.gpr, sizeof before.gpr) == 0);
  CHECK(m.vcpu.eip == before.eip);
}

TEST_CASE("emulated_leave_sets_esp_from_ebp_and_pops_ebp", "[emulate]") {
  Machine m;
  m.vcpu.gpr[kEbp] = 0x8800;
  m.env.write32(0x8800, 0x8a00);
  REQUIRE(emulate(m, {0xc9}).kind == StepResult::kContinue);
  CHECK(m.vcpu.gpr[kEsp] == 0x8804);
  CHECK(m.vcpu.gpr[kEbp] == 0x8a00);
}

TEST_CASE("emulated_enter_with_nesting_level_copies_frame_pointers_and_allocates", "[emulate]") {
  Machine m;
  const uint32_t esp = m.vcpu.gpr[kEsp];
  m.vcpu.gpr[kEbp] = 0x8a00;
  m.env.write32(0x8a00 - 4, 0x11111111);
  m.env.write32(0x8a00 - 8, 0x22222222);
  REQUIRE(emulate(m, {0xc8, 0x10, 0x00, 0x03}).kind == StepResult::kContinue);  // enter 16, 3
  // SDM vol. 2 ENTER: push EBP; push [EBP-4], [EBP-8]; push the frame pointer; ESP -= 16.
  const uint32_t frame = esp - 4;
  CHECK(m.env.read32(esp - 4) == 0x8a00);
  CHECK(m.env.read32(esp - 8) == 0x11111111);
  CHECK(m.env.read32(esp - 12) == 0x22222222);
  CHECK(m.env.read32(esp - 16) == frame);
  CHECK(m.vcpu.gpr[kEbp] == frame);
  CHECK(m.vcpu.gpr[kEsp] == esp - 16 - 16);
}

TEST_CASE("emulated_push_esp_pushes_the_old_value_and_pop_esp_loads_the_popped_one", "[emulate]") {
  Machine m;
  const uint32_t esp = m.vcpu.gpr[kEsp];
  REQUIRE(emulate(m, {0x54}).kind == StepResult::kContinue);  // push esp
  CHECK(m.env.read32(esp - 4) == esp);
  m.env.write32(esp - 4, 0x7000);
  REQUIRE(emulate(m, {0x5c}).kind == StepResult::kContinue);  // pop esp
  CHECK(m.vcpu.gpr[kEsp] == 0x7000);
  REQUIRE(emulate(m, {0x6a, 0xfe}).kind == StepResult::kContinue);  // push -2
  CHECK(m.env.read32(0x7000 - 4) == 0xfffffffe);
}

TEST_CASE("emulated_lds_loads_the_segment_and_the_offset_register", "[emulate]") {
  Machine m;
  m.vcpu.gpr[kEbx] = kData;
  m.env.write32(kData, 0x1234);
  m.env.write16(kData + 4, kSmallData);
  REQUIRE(emulate(m, {0xc5, 0x03}).kind == StepResult::kContinue);  // lds eax, [ebx]
  CHECK(m.vcpu.gpr[kEax] == 0x1234);
  CHECK(m.vcpu.seg[kDs].selector == kSmallData);
  CHECK(m.vcpu.seg[kDs].base == 0x20000);
  set_segment(m.vcpu, kDs, m.cache_of(kKernelData));
  m.env.write16(kData + 4, kAbsentData);
  CHECK(is_fault(emulate(m, {0xc4, 0x03}), kNp, kAbsentData));  // les: not present
  CHECK(m.vcpu.seg[kEs].selector == kKernelData);
}

TEST_CASE("emulated_x87_load_and_store_convert_through_the_guest_fpu_stack", "[emulate]") {
  Machine m;
  init_fpu(m);
  m.vcpu.gpr[kEbx] = kData;
  const float f = 1.5f;
  std::memcpy(&m.env.mem[kData], &f, 4);
  REQUIRE(emulate(m, {0xd9, 0x03}).kind == StepResult::kContinue);  // fld dword [ebx]
  CHECK(((fsw(m) >> 11) & 7) == 7);                                   // TOP moved down
  const uint32_t fstp_eip = m.vcpu.eip;
  REQUIRE(emulate(m, {0xdd, 0x5b, 0x08}).kind == StepResult::kContinue);  // fstp qword [ebx+8]
  double d = 0;
  std::memcpy(&d, &m.env.mem[kData + 8], 8);
  CHECK(d == 1.5);
  CHECK(((fsw(m) >> 11) & 7) == 0);
  uint32_t fip = 0;
  std::memcpy(&fip, m.vcpu.fxsave + 8, 4);
  CHECK(fip == fstp_eip);  // the guest's instruction pointer, not the host's
}

TEST_CASE("emulated_x87_store_to_an_absent_page_faults_and_keeps_the_fpu_state", "[emulate]") {
  Machine m;
  init_fpu(m);
  m.vcpu.gpr[kEbx] = kData;
  const float f = 2.0f;
  std::memcpy(&m.env.mem[kData], &f, 4);
  REQUIRE(emulate(m, {0xd9, 0x03}).kind == StepResult::kContinue);  // fld dword [ebx]
  uint8_t image[512];
  std::memcpy(image, m.vcpu.fxsave, 512);
  m.env.absent_pages.insert(0x21);
  m.vcpu.gpr[kEbx] = 0x21000;
  CHECK(is_fault(emulate(m, {0xdd, 0x1b}), kPf, 2));  // fstp qword [ebx]
  CHECK(std::memcmp(image, m.vcpu.fxsave, 512) == 0);  // nothing popped
}

TEST_CASE("emulated_sse_moves_copy_16_bytes_and_misaligned_movaps_raises_gp0", "[emulate]") {
  Machine m;
  init_fpu(m);
  m.vcpu.gpr[kEbx] = kData;
  for (unsigned i = 0; i < 16; ++i) m.env.mem[kData + 1 + i] = uint8_t(0xa0 + i);
  REQUIRE(emulate(m, {0x0f, 0x10, 0x43, 0x01}).kind == StepResult::kContinue);  // movups xmm0, [ebx+1]
  REQUIRE(emulate(m, {0x0f, 0x29, 0x43, 0x40}).kind == StepResult::kContinue);  // movaps [ebx+0x40], xmm0
  CHECK(std::memcmp(&m.env.mem[kData + 0x40], &m.env.mem[kData + 1], 16) == 0);
  CHECK(is_fault(emulate(m, {0x0f, 0x29, 0x43, 0x48}), kGp, 0));  // movaps [ebx+0x48]: misaligned
}

TEST_CASE("emulated_fpu_instructions_respect_cr0_ts_em_and_cr4_osfxsr", "[emulate]") {
  Machine m;
  init_fpu(m);
  m.vcpu.gpr[kEbx] = kData;
  m.vcpu.cr0 |= kCr0Ts;
  CHECK(is_fault(emulate(m, {0xd9, 0x03}), kNm, 0));              // fld: #NM (lazy FPU switch)
  CHECK(is_fault(emulate(m, {0x0f, 0x10, 0x03}), kNm, 0));        // movups: #NM
  m.vcpu.cr0 &= ~kCr0Ts;
  m.vcpu.cr4 &= ~kCr4Osfxsr;
  CHECK(is_fault(emulate(m, {0x0f, 0x10, 0x03}), kUd, 0));        // SSE without OSFXSR: #UD
}

TEST_CASE("emulated_waiting_x87_instruction_with_a_pending_exception_raises_mf", "[emulate]") {
  Machine m;
  init_fpu(m);
  m.vcpu.gpr[kEbx] = kData;
  const uint16_t fcw = 0x037e, pending = 0x0081;  // IE unmasked and raised: ES set, #MF pending
  std::memcpy(m.vcpu.fxsave, &fcw, 2);
  std::memcpy(m.vcpu.fxsave + 2, &pending, 2);
  CHECK(is_fault(emulate(m, {0xd9, 0x03}), kMf, 0));               // fld: #MF before it runs
  REQUIRE(emulate(m, {0xdd, 0x3b}).kind == StepResult::kContinue);  // fnstsw [ebx]: non-waiting
  CHECK((m.env.read16(kData) & 0xff) == pending);
}

TEST_CASE("emulated_fxsave_stores_the_guest_state_and_ldmxcsr_rejects_reserved_bits", "[emulate]") {
  Machine m;
  init_fpu(m);
  m.vcpu.gpr[kEbx] = kData;
  REQUIRE(emulate(m, {0x0f, 0xae, 0x03}).kind == StepResult::kContinue);  // fxsave [ebx]
  CHECK(m.env.read16(kData) == 0x037f);
  CHECK(m.env.read32(kData + 24) == 0x1f80);
  m.vcpu.gpr[kEbx] = kData + 8;
  CHECK(is_fault(emulate(m, {0x0f, 0xae, 0x03}), kGp, 0));  // fxsave needs 16-byte alignment
  m.env.write32(kData + 0x400, 0x00011f80);
  m.vcpu.gpr[kEbx] = kData + 0x400;
  CHECK(is_fault(emulate(m, {0x0f, 0xae, 0x13}), kGp, 0));  // ldmxcsr with bit 16 set
  m.env.write32(kData + 0x400, 0x00001fc0);  // all exceptions masked, denormals-are-zero
  REQUIRE(emulate(m, {0x0f, 0xae, 0x13}).kind == StepResult::kContinue);
  uint32_t mxcsr = 0;
  std::memcpy(&mxcsr, m.vcpu.fxsave + 24, 4);
  CHECK(mxcsr == 0x1fc0);
}

}  // namespace btvmm::runtime::test
