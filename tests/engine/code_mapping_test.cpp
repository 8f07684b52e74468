// TC coherency with guest paging (DESIGN.md 3): a CCF must never run once the linear page of its
// code maps other code, after INVLPG, a CR3 load (non-global pages) or a CR4.PGE toggle (global
// ones, SDM vol. 3A 4.10.4.1); code whose mapping did not change must stay translated and chained.
#include <catch2/catch.hpp>

#include "core/stats.h"
#include "engine_fixture.h"

using namespace btvmm;
using namespace btvmm::engine_test;
namespace x86 = asmjit::x86;

namespace {


constexpr uint32_t kPd1 = 0x300000, kPt1 = 0x301000, kPd2 = 0x302000, kPt2 = 0x303000;
constexpr uint32_t kCallee = 0x3f0000;  // linear page remapped between the two code pages below
constexpr uint32_t kCodeA = 0x600000, kCodeB = 0x601000;

// Two address spaces identity-mapping the low 4 MiB (page tables included, so guest code can
// rewrite its PTEs), with kCallee -> kCodeA in both. `flags` go on every PTE (e.g. global).
void two_address_spaces(Machine& m, uint32_t flags) {
  m.mem.fill(GuestPhysAddr(kPd1), 0, 4 * kPageSize);
  m.write32(kPd1, kPt1 | 3);
  m.write32(kPd2, kPt2 | 3);
  for (uint32_t i = 0; i < 1024; ++i) {
    m.write32(kPt1 + 4 * i, (i << 12) | 3 | flags);
    m.write32(kPt2 + 4 * i, (i << 12) | 3 | flags);
  }
  m.write32(kPt1 + 4 * (kCallee >> 12), kCodeA | 3 | flags);
  m.write32(kPt2 + 4 * (kCallee >> 12), kCodeA | 3 | flags);
  m.bytes(kCodeA, {0xB8, 0x01, 0x00, 0x00, 0x00, 0xC3});  // mov eax, 1; ret
  m.bytes(kCodeB, {0xB8, 0x02, 0x00, 0x00, 0x00, 0xC3});  // mov eax, 2; ret
  m.vcpu.cr3 = kPd1;
  m.vcpu.cr0 |= mmu::kCr0Pg;
  m.load_cr3(kPd1);
  m.set_cr4(m.vcpu.cr4);
  m.set_cr0(m.vcpu.cr0);
}

// Calls kCallee `n` times in a loop (so its CCF is chained and in the inline lookup), result in ebx.
void call_loop(x86::Assembler& a, uint32_t n) {
  asmjit::Label again = a.newLabel();
  a.mov(x86::edi, n);
  a.mov(x86::esi, kCallee);
  a.bind(again);
  a.call(x86::esi);
  a.dec(x86::edi);
  a.jnz(again);
  a.mov(x86::ebx, x86::eax);
}

// Linux's __flush_tlb_global: clearing and setting CR4.PGE drops global translations.
void toggle_pge(x86::Assembler& a) {
  a.mov(x86::ecx, x86::cr4);
  a.and_(x86::ecx, ~mmu::kCr4Pge);
  a.mov(x86::cr4, x86::ecx);
  a.or_(x86::ecx, mmu::kCr4Pge);
  a.mov(x86::cr4, x86::ecx);
}

}  // namespace

TEST_CASE("engine_invlpg_of_a_remapped_code_page_runs_the_new_code", "[engine]") {
  stats::reset_all();
  Machine m;
  two_address_spaces(m, 0);
  m.code(kCode, [](x86::Assembler& a) {
    call_loop(a, 3);
    a.mov(x86::dword_ptr(kPt1 + 4 * (kCallee >> 12)), kCodeB | 3);
    a.mov(x86::ecx, kCallee);
    a.invlpg(x86::dword_ptr(x86::ecx));
    a.mov(x86::ebp, x86::ebx);
    call_loop(a, 3);
    a.hlt();
  });
  REQUIRE(m.run());
  CHECK(m.vcpu.gpr[kEbp] == 1);
  CHECK(m.vcpu.gpr[kEbx] == 2);
  // INVLPG touched only the callee's page: the caller's CCFs were never cut.
  CHECK(stats::value_of("tc.stale") == 1);
}

TEST_CASE("engine_invlpg_of_an_unrelated_page_keeps_code_chained", "[engine]") {
  stats::reset_all();
  Machine m;
  two_address_spaces(m, 0);
  m.code(kCode, [](x86::Assembler& a) {
    call_loop(a, 3);
    a.mov(x86::ecx, kData);
    a.invlpg(x86::dword_ptr(x86::ecx));
    call_loop(a, 3);
    a.hlt();
  });
  REQUIRE(m.run());
  CHECK(m.vcpu.gpr[kEbx] == 1);
  CHECK(stats::value_of("tc.stale") == 0);
}

TEST_CASE("engine_cr3_switch_runs_the_new_spaces_code_for_a_non_global_page", "[engine]") {
  stats::reset_all();
  Machine m;
  two_address_spaces(m, 0);
  m.write32(kPt2 + 4 * (kCallee >> 12), kCodeB | 3);
  m.code(kCode, [](x86::Assembler& a) {
    call_loop(a, 2);
    a.mov(x86::ebp, x86::ebx);
    a.mov(x86::ecx, kPd2);
    a.mov(x86::cr3, x86::ecx);
    call_loop(a, 2);
    a.hlt();
  });
  REQUIRE(m.run());
  CHECK(m.vcpu.gpr[kEbp] == 1);
  CHECK(m.vcpu.gpr[kEbx] == 2);
}

TEST_CASE("engine_global_code_pages_need_no_recheck_at_cr3_loads", "[engine]") {
  stats::reset_all();
  Machine m;
  m.vcpu.cr4 = mmu::kCr4Pge;
  two_address_spaces(m, mmu::kPteGlobal);
  m.code(kCode, [](x86::Assembler& a) {
    asmjit::Label again = a.newLabel();
    a.mov(x86::edx, 4);
    a.bind(again);
    call_loop(a, 2);
    a.mov(x86::ecx, kPd2);
    a.mov(x86::cr3, x86::ecx);
    call_loop(a, 2);
    a.mov(x86::ecx, kPd1);
    a.mov(x86::cr3, x86::ecx);
    a.dec(x86::edx);
    a.jnz(again);
    a.hlt();
  });
  REQUIRE(m.run());
  CHECK(m.vcpu.gpr[kEbx] == 1);
  CHECK(stats::value_of("tc.cr3_rechecks") == 0);
  CHECK(stats::value_of("tc.stale") == 0);
}

TEST_CASE("engine_global_code_page_remapped_runs_the_new_code_after_invlpg", "[engine]") {
  stats::reset_all();
  Machine m;
  m.vcpu.cr4 = mmu::kCr4Pge;
  two_address_spaces(m, mmu::kPteGlobal);
  m.code(kCode, [](x86::Assembler& a) {
    call_loop(a, 3);
    a.mov(x86::ebp, x86::ebx);
    a.mov(x86::dword_ptr(kPt1 + 4 * (kCallee >> 12)), kCodeB | 3 | mmu::kPteGlobal);
    a.mov(x86::ecx, kCallee);
    a.invlpg(x86::dword_ptr(x86::ecx));
    call_loop(a, 3);
    a.hlt();
  });
  REQUIRE(m.run());
  CHECK(m.vcpu.gpr[kEbp] == 1);
  CHECK(m.vcpu.gpr[kEbx] == 2);
}

TEST_CASE("engine_global_code_page_remapped_runs_the_new_code_after_a_cr4_pge_toggle", "[engine]") {
  stats::reset_all();
  Machine m;
  m.vcpu.cr4 = mmu::kCr4Pge;
  two_address_spaces(m, mmu::kPteGlobal);
  m.code(kCode, [](x86::Assembler& a) {
    call_loop(a, 3);
    a.mov(x86::ebp, x86::ebx);
    a.mov(x86::dword_ptr(kPt1 + 4 * (kCallee >> 12)), kCodeB | 3 | mmu::kPteGlobal);
    toggle_pge(a);
    call_loop(a, 3);
    a.hlt();
  });
  REQUIRE(m.run());
  CHECK(m.vcpu.gpr[kEbp] == 1);
  CHECK(m.vcpu.gpr[kEbx] == 2);
}

// The toggle changes no translation: code whose page still maps the same stays chained (re-walked
// at the toggle, not cut from chains to be re-checked one dispatcher pass at a time).
TEST_CASE("engine_cr4_pge_toggle_keeps_unmoved_code_chained", "[engine]") {
  stats::reset_all();
  Machine m;
  m.vcpu.cr4 = mmu::kCr4Pge;
  two_address_spaces(m, mmu::kPteGlobal);
  m.code(kCode, [](x86::Assembler& a) {
    call_loop(a, 3);
    toggle_pge(a);
    call_loop(a, 3);
    a.hlt();
  });
  // Setting up paging (PG on, PGE on) counted in both shadows already.
  const uint64_t mode_flushes = stats::value_of("shadow.flushes_mode");
  const uint64_t global_flushes = stats::value_of("shadow.global_flushes");
  REQUIRE(m.run());
  CHECK(m.vcpu.gpr[kEbx] == 1);
  CHECK(stats::value_of("tc.stale") == 0);
  CHECK(stats::value_of("tc.cr4_rechecks") > 0);
  CHECK(stats::value_of("shadow.flushes_mode") == mode_flushes);
  CHECK(stats::value_of("shadow.global_flushes") == global_flushes + 4);  // two toggles, two shadows
}

// With PGE clear the G bit means nothing (SDM vol. 3A 4.10.2.4): code translated from a global page
// must be re-checked at the next CR3 load like any other.
TEST_CASE("engine_code_from_a_global_page_is_rechecked_at_cr3_loads_once_pge_is_cleared", "[engine]") {
  stats::reset_all();
  Machine m;
  m.vcpu.cr4 = mmu::kCr4Pge;
  two_address_spaces(m, mmu::kPteGlobal);
  m.write32(kPt2 + 4 * (kCallee >> 12), kCodeB | 3 | mmu::kPteGlobal);
  m.code(kCode, [](x86::Assembler& a) {
    call_loop(a, 3);
    a.mov(x86::ebp, x86::ebx);
    a.mov(x86::ecx, x86::cr4);
    a.and_(x86::ecx, ~mmu::kCr4Pge);
    a.mov(x86::cr4, x86::ecx);
    a.mov(x86::ecx, kPd2);
    a.mov(x86::cr3, x86::ecx);
    call_loop(a, 3);
    a.hlt();
  });
  REQUIRE(m.run());
  CHECK(m.vcpu.gpr[kEbp] == 1);
  CHECK(m.vcpu.gpr[kEbx] == 2);
}

// Code staled by a CR3 load to a space that maps it differently, entered again after the load back:
// the re-check keeps it, and the jumps into it that the staling cut are linked again at once
// (tc.relinked) instead of each leaving the TC at its next run to be relinked there.
TEST_CASE("engine_code_kept_by_a_recheck_gets_the_chains_its_staling_cut_back", "[engine]") {
  stats::reset_all();
  Machine m;
  two_address_spaces(m, 0);
  m.write32(kPt2 + 4 * (kCallee >> 12), kCodeB | 3);
  m.code(kCode, [](x86::Assembler& a) {
    asmjit::Label again = a.newLabel(), calls = a.newLabel();
    a.mov(x86::edx, 3);
    a.bind(again);
    a.mov(x86::edi, 2);
    a.bind(calls);
    a.call(asmjit::Imm(kCallee));  // a direct call: chained to the callee's CCF
    a.add(x86::ebp, x86::eax);
    a.dec(x86::edi);
    a.jnz(calls);
    // The other space maps other code at kCallee: the callee's CCF goes stale there.
    a.mov(x86::ecx, kPd2);
    a.mov(x86::cr3, x86::ecx);
    a.mov(x86::ecx, kPd1);
    a.mov(x86::cr3, x86::ecx);
    a.dec(x86::edx);
    a.jnz(again);
    a.hlt();
  });
  m.vcpu.gpr[kEbp] = 0;
  REQUIRE(m.run());
  CHECK(m.vcpu.gpr[kEbp] == 3 * 2 * 1);  // every call ran kCodeA, the code pd1 maps
  CHECK(stats::value_of("tc.revalidated") >= 2);
  CHECK(stats::value_of("tc.relinked") >= 2);
}
