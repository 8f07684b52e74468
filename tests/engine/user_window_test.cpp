// Tests of translated CPL 3 code in the user window (DESIGN.md 2): every guest access of a CPL 3
// CCF goes through the host GS base into a window that maps only what user code may touch, so user
// code cannot reach a supervisor page even while the supervisor window maps it; string
// instructions run with RSI/RDI rebased into that window and a fault inside them shows the guest
// its own 32-bit offsets (SDM vol. 2 REP: the registers point at the faulting element).
#include <catch2/catch.hpp>

#include "core/stats.h"
#include "engine_fixture.h"

using namespace btvmm;
using namespace btvmm::engine_test;
namespace x86 = asmjit::x86;

namespace {

constexpr uint32_t kPd = 0x300000, kPt = 0x301000;
constexpr uint32_t kTss = 0x4000;
constexpr uint32_t kUserStack = 0x90000;
constexpr uint32_t kSupervisorPage = 0x250000;
constexpr uint32_t kSrc = 0x260000, kDst = 0x270000;  // kDst + 2 pages is not present

// Identity paging of the low 4 MiB, user-accessible except kSupervisorPage, kDst + 0x2000 absent;
// user code and data segments (DPL 3) and a TSS whose ring-0 stack takes exceptions from CPL 3
// (SDM vol. 3 6.12.1); the vCPU starts at CPL 3.
void enter_user_mode(Machine& m) {
  m.mem.fill(GuestPhysAddr(kPd), 0, 2 * kPageSize);
  m.write32(kPd, kPt | 7);
  for (uint32_t i = 0; i < 1024; ++i) m.write32(kPt + 4 * i, (i << 12) | 7);
  m.write32(kPt + 4 * (kSupervisorPage >> 12), kSupervisorPage | 3);
  m.write32(kPt + 4 * ((kDst + 0x2000) >> 12), 0);
  const uint64_t gdt[6] = {0, 0x00CF9B000000FFFFull, 0x00CF93000000FFFFull, 0x00CFFB000000FFFFull,
                           0x00CFF3000000FFFFull,
                           // 32-bit available TSS at kTss, limit 0x67 (SDM vol. 3 7.2.2)
                           0x0000890000000067ull | (uint64_t(kTss & 0xffffff) << 16)};
  m.mem.write(GuestPhysAddr(kGdt), gdt, sizeof gdt);
  m.vcpu.gdtr = {kGdt, sizeof gdt - 1};
  m.mem.fill(GuestPhysAddr(kTss), 0, 0x68);
  m.write32(kTss + 4, kStackTop);  // ESP0
  m.write32(kTss + 8, 0x10);       // SS0
  m.vcpu.tr = SegmentCache{0x28, 0x8B, kTss, 0x67};
  m.vcpu.cr3 = kPd;
  m.vcpu.cr0 |= mmu::kCr0Pg | mmu::kCr0Wp;
  m.load_cr3(kPd);
  m.set_cr0(m.vcpu.cr0);
  m.vcpu.seg[kCs] = SegmentCache{0x1b, 0xC0FB, 0, 0xffffffff};
  for (unsigned s : {kSs, kDs, kEs, kFs, kGs}) m.vcpu.seg[s] = SegmentCache{0x23, 0xC0F3, 0, 0xffffffff};
  m.vcpu.cpl = 3;
  m.vcpu.gpr[kEsp] = kUserStack;
}

}  // namespace

TEST_CASE("user_code_cannot_read_a_supervisor_page_the_supervisor_window_maps", "[engine]") {
  Machine m;
  enter_user_mode(m);
  m.write32(kSupervisorPage, 0x5ec2e7);
  // The kernel has used the page: it is mapped in the supervisor window.
  REQUIRE(m.shadow->fill(LinearAddr(kSupervisorPage), mmu::AccessKind::kRead).status == mmu::FillStatus::kMapped);
  m.code(kCode, [](x86::Assembler& a) {
    a.mov(x86::eax, x86::dword_ptr(kSupervisorPage));
    a.hlt();  // not reached
  });
  REQUIRE(m.run());
  REQUIRE(m.halted_in_handler(14));
  CHECK(m.vcpu.cr2 == kSupervisorPage);
  CHECK(m.stack(0) == 5);  // P | U: a protection fault from user mode (SDM vol. 3 4.7)
  CHECK(m.stack(1) == kCode);
  CHECK(m.vcpu.gpr[kEax] != 0x5ec2e7);
  CHECK(m.user_shadow->mapping(LinearAddr(kSupervisorPage)) == nullptr);
}

TEST_CASE("user_rep_movsd_faulting_mid_copy_leaves_guest_offsets_in_esi_edi_ecx", "[engine]") {
  Machine m;
  enter_user_mode(m);
  for (uint32_t i = 0; i < 3 * 1024; ++i) m.write32(kSrc + 4 * i, 0xa0000000 + i);
  m.code(kCode, [](x86::Assembler& a) {
    a.cld();
    a.mov(x86::esi, kSrc);
    a.mov(x86::edi, kDst);
    a.mov(x86::ecx, 3 * 1024);
    a.rep().movsd();
    a.hlt();  // not reached: the third destination page is absent
  });
  REQUIRE(m.run());
  REQUIRE(m.halted_in_handler(14));
  CHECK(m.vcpu.cr2 == kDst + 0x2000);
  CHECK(m.stack(0) == 6);  // not present, write, user
  // The interrupted rep: the registers name the element that faulted, as 32-bit guest offsets.
  CHECK(m.vcpu.gpr[kEsi] == kSrc + 0x2000);
  CHECK(m.vcpu.gpr[kEdi] == kDst + 0x2000);
  CHECK(m.vcpu.gpr[kEcx] == 1024);
  CHECK(m.read32(kDst) == 0xa0000000);
  CHECK(m.read32(kDst + 0x1ffc) == 0xa0000000 + 2047);
}

TEST_CASE("user_stosb_with_df_set_at_offset_zero_wraps_edi_to_4_gib_minus_1", "[engine]") {
  // Linear page 0 is never mapped (vm.mmap_min_addr): the store is emulated by the monitor, which
  // must see the guest's EDI (0), not the rebased host register, and leave EDI = 2^32 - 1.
  Machine m;
  enter_user_mode(m);
  m.write32(0, 0);
  m.code(kCode, [](x86::Assembler& a) {
    a.std();
    a.xor_(x86::edi, x86::edi);
    a.mov(x86::al, 0x5a);
    a.stosb();
    a.mov(x86::ebx, x86::edi);
    a.cld();
    a.hlt();  // #GP at CPL 3: ends the test in handler 13
  });
  REQUIRE(m.run());
  CHECK(m.halted_in_handler(13));
  CHECK(m.read32(0) == 0x5a);
  CHECK(m.vcpu.gpr[kEbx] == 0xffffffff);
}
