// Tests of the TC engine in a real guest window: guest kernel code (CPL 0) assembled in 32-bit
// mode, run from the translation cache, checked against what the SDM says it must leave behind.
#include <catch2/catch.hpp>

#include <chrono>

#include <fmt/format.h>

#include "core/stats.h"
#include "engine_fixture.h"
#include "mmu/write_traces.h"

using namespace btvmm;
using namespace btvmm::engine_test;
namespace x86 = asmjit::x86;

TEST_CASE("engine_runs_ident_alu_and_reencoded_push_pop_to_hlt", "[engine]") {
  Machine m;
  uint32_t end = 0;
  m.code(kCode, [&](x86::Assembler& a) {
    a.mov(x86::eax, 5);
    a.add(x86::eax, 7);
    a.push(x86::eax);
    a.push(0x1234);
    a.pop(x86::ecx);
    a.pop(x86::ebx);
    a.mov(x86::dword_ptr(kData), x86::ebx);
    a.hlt();
    end = kCode + static_cast<uint32_t>(a.offset());
  });
  REQUIRE(m.run());
  CHECK(m.vcpu.gpr[kEax] == 12);
  CHECK(m.vcpu.gpr[kEbx] == 12);
  CHECK(m.vcpu.gpr[kEcx] == 0x1234);
  CHECK(m.vcpu.gpr[kEsp] == kStackTop);
  CHECK(m.read32(kData) == 12);
  CHECK(m.read32(kStackTop - 4) == 12);
  CHECK(m.read32(kStackTop - 8) == 0x1234);
  CHECK(m.vcpu.eip == end);
}

TEST_CASE("engine_keeps_guest_arithmetic_flags_and_df_across_exits", "[engine]") {
  Machine m;
  m.code(kCode, [](x86::Assembler& a) {
    a.std();
    a.mov(x86::eax, 0xffffffff);
    a.add(x86::eax, 1);  // ZF, CF, PF, AF set
    a.hlt();
  });
  REQUIRE(m.run());
  const uint32_t f = m.vcpu.eflags;
  CHECK((f & kFlagZf));
  CHECK((f & kFlagCf));
  CHECK((f & kFlagDf));
  CHECK(!(f & kFlagSf));
  CHECK(!(f & kFlagTf));
}

TEST_CASE("engine_chains_direct_branches_of_a_loop", "[engine]") {
  stats::reset_all();
  Machine m;
  m.code(kCode, [](x86::Assembler& a) {
    asmjit::Label loop = a.newLabel();
    a.mov(x86::ecx, 1000);
    a.xor_(x86::eax, x86::eax);
    a.bind(loop);
    a.add(x86::eax, x86::ecx);
    a.db(0x49);  // dec ecx, short form (a REX prefix in 64-bit mode)
    a.jnz(loop);
    a.hlt();
  });
  REQUIRE(m.run());
  CHECK(m.vcpu.gpr[kEax] == 500500);
  CHECK(m.vcpu.gpr[kEcx] == 0);
  CHECK(stats::value_of("tc.chained") >= 1);
  CHECK(stats::value_of("tc.exits_branch") < 10);
}

TEST_CASE("engine_without_chaining_exits_at_every_branch", "[engine]") {
  stats::reset_all();
  Machine m(EngineConfig{.chaining = false});
  m.code(kCode, [](x86::Assembler& a) {
    asmjit::Label loop = a.newLabel();
    a.mov(x86::ecx, 100);
    a.bind(loop);
    a.loop(loop);
    a.hlt();
  });
  REQUIRE(m.run());
  CHECK(m.vcpu.gpr[kEcx] == 0);
  CHECK(stats::value_of("tc.chained") == 0);
  CHECK(stats::value_of("tc.exits_branch") >= 100);
}

TEST_CASE("engine_calls_and_returns_through_the_inline_lookup", "[engine]") {
  stats::reset_all();
  Machine m;
  m.code(kCode, [](x86::Assembler& a) {
    asmjit::Label f = a.newLabel(), loop = a.newLabel();
    a.mov(x86::esi, 200);
    a.xor_(x86::eax, x86::eax);
    a.bind(loop);
    a.call(f);
    a.dec(x86::esi);
    a.jnz(loop);
    a.mov(x86::edx, x86::esp);
    a.hlt();
    a.bind(f);
    a.add(x86::eax, 3);
    a.ret();
  });
  REQUIRE(m.run());
  CHECK(m.vcpu.gpr[kEax] == 600);
  CHECK(m.vcpu.gpr[kEdx] == kStackTop);
  CHECK(stats::value_of("tc.indirect_hits") >= 190);
  CHECK(stats::value_of("tc.indirect_misses") <= 5);
}

TEST_CASE("engine_hidden_faults_fill_the_shadow_and_retry", "[engine]") {
  stats::reset_all();
  Machine m;
  m.write32(kData + 0x5000, 77);
  m.code(kCode, [](x86::Assembler& a) {
    a.mov(x86::eax, x86::dword_ptr(kData + 0x5000));
    a.mov(x86::dword_ptr(kData + 0x9000), x86::eax);
    a.hlt();
  });
  REQUIRE(m.run());
  CHECK(m.vcpu.gpr[kEax] == 77);
  CHECK(m.read32(kData + 0x9000) == 77);
  CHECK(stats::value_of("traps.hidden_fault") >= 1);
}

TEST_CASE("engine_reflects_guest_pf_with_exact_eip_cr2_error_code_and_registers", "[engine]") {
  Machine m;
  // Paging: identity-map the low 4 MiB but leave kData + 0x3000 not present.
  const uint32_t pd = 0x400000;
  m.mem.fill(GuestPhysAddr(pd), 0, 2 * kPageSize);
  m.write32(pd, (pd + 0x1000) | 7);
  for (uint32_t i = 0; i < 1024; ++i) m.write32(pd + 0x1000 + 4 * i, (i << 12) | 3);
  const uint32_t hole = kData + 0x3000;
  m.write32(pd + 0x1000 + 4 * (hole >> 12), 0);
  m.vcpu.cr3 = pd;
  m.vcpu.cr0 |= mmu::kCr0Pg;
  m.load_cr3(pd);
  m.set_cr0(m.vcpu.cr0);
  uint32_t faulting = 0;
  m.code(kCode, [&](x86::Assembler& a) {
    a.mov(x86::ebx, 0x11111111);
    a.push(x86::ebx);
    a.mov(x86::ecx, hole + 8);
    faulting = kCode + static_cast<uint32_t>(a.offset());
    a.mov(x86::dword_ptr(x86::ecx), x86::ebx);  // write to a not-present page
    a.mov(x86::ebx, 0);
    a.hlt();
  });
  REQUIRE(m.run());
  REQUIRE(m.halted_in_handler(kPf));
  CHECK(m.vcpu.cr2 == hole + 8);
  CHECK(m.stack(0) == 2);  // error code: write, not present, supervisor (SDM vol. 3 4.7)
  CHECK(m.stack(1) == faulting);
  CHECK(m.vcpu.gpr[kEbx] == 0x11111111);
  CHECK(m.vcpu.gpr[kEcx] == hole + 8);
  // push ebx, then the frame: EFLAGS, CS, EIP, error code (SDM vol. 3 6.12.1, no stack switch).
  CHECK(m.vcpu.gpr[kEsp] == kStackTop - 4 - 16);
}

void identity_paging_with_hole(Machine& m, uint32_t hole) {
  const uint32_t pd = 0x400000;
  m.mem.fill(GuestPhysAddr(pd), 0, 2 * kPageSize);
  m.write32(pd, (pd + 0x1000) | 7);
  for (uint32_t i = 0; i < 1024; ++i) m.write32(pd + 0x1000 + 4 * i, (i << 12) | 3);
  m.write32(pd + 0x1000 + 4 * (hole >> 12), 0);
  m.vcpu.cr3 = pd;
  m.vcpu.cr0 |= mmu::kCr0Pg;
  m.load_cr3(pd);
  m.set_cr0(m.vcpu.cr0);
}

TEST_CASE("engine_push_from_a_faulting_source_leaves_esp_unchanged", "[engine]") {
  Machine m;
  const uint32_t hole = kData + 0x7000;
  identity_paging_with_hole(m, hole);
  uint32_t at = 0;
  m.code(kCode, [&](x86::Assembler& a) {
    a.mov(x86::ecx, hole);
    at = kCode + static_cast<uint32_t>(a.offset());
    a.push(x86::dword_ptr(x86::ecx, 4));
    a.hlt();
  });
  REQUIRE(m.run());
  REQUIRE(m.halted_in_handler(kPf));
  CHECK(m.vcpu.cr2 == hole + 4);
  CHECK(m.stack(0) == 0);  // read, not present
  CHECK(m.stack(1) == at);
  CHECK(m.vcpu.gpr[kEsp] == kStackTop - 16);  // only the exception frame
}

TEST_CASE("engine_pop_to_a_faulting_destination_leaves_esp_unchanged", "[engine]") {
  Machine m;
  const uint32_t hole = kData + 0x7000;
  identity_paging_with_hole(m, hole);
  uint32_t at = 0;
  m.code(kCode, [&](x86::Assembler& a) {
    a.push(0x5555);
    at = kCode + static_cast<uint32_t>(a.offset());
    a.pop(x86::dword_ptr(hole + 8));
    a.hlt();
  });
  REQUIRE(m.run());
  REQUIRE(m.halted_in_handler(kPf));
  CHECK(m.vcpu.cr2 == hole + 8);
  CHECK(m.stack(0) == 2);  // write, not present
  CHECK(m.stack(1) == at);
  CHECK(m.stack(4) == 0x5555);  // the pushed value is still on the stack, below the frame
  CHECK(m.vcpu.gpr[kEsp] == kStackTop - 4 - 16);
}

TEST_CASE("engine_divide_error_becomes_guest_de_at_the_div", "[engine]") {
  stats::reset_all();
  Machine m;
  uint32_t at = 0;
  m.code(kCode, [&](x86::Assembler& a) {
    a.mov(x86::eax, 10);
    a.xor_(x86::edx, x86::edx);
    a.xor_(x86::ecx, x86::ecx);
    at = kCode + static_cast<uint32_t>(a.offset());
    a.div(x86::ecx);
    a.hlt();
  });
  REQUIRE(m.run());
  REQUIRE(m.halted_in_handler(kDe));
  CHECK(m.stack(0) == at);
  CHECK(m.vcpu.gpr[kEax] == 10);
  CHECK(stats::value_of("traps.de") == 1);
}

TEST_CASE("engine_monitor_exits_execute_callouts_like_out_and_cli", "[engine]") {
  Machine m;
  m.vcpu.eflags |= kFlagIf;
  m.code(kCode, [](x86::Assembler& a) {
    a.mov(x86::eax, 0x42);
    a.out(0x80, x86::al);
    a.cli();
    a.mov(x86::ebx, 1);
    a.hlt();
  });
  REQUIRE(m.run());
  CHECK(m.env.last_out.first == 0x80);
  CHECK((m.env.last_out.second & 0xff) == 0x42);
  CHECK(!(m.vcpu.eflags & kFlagIf));
  CHECK(m.vcpu.gpr[kEbx] == 1);
}

TEST_CASE("engine_delivers_a_pending_interrupt_when_if_is_set", "[engine]") {
  Machine m;
  m.host.pending = 0x20 - 1;  // vector 31: within the fixture's IDT
  m.code(kCode, [](x86::Assembler& a) {
    a.mov(x86::eax, 1);
    a.sti();
    a.mov(x86::ebx, 2);  // runs in the sti shadow before the interrupt
    a.mov(x86::ecx, 3);
    a.hlt();
  });
  REQUIRE(m.run());
  REQUIRE(m.halted_in_handler(31));
  CHECK(m.vcpu.gpr[kEbx] == 2);
}

TEST_CASE("engine_self_modifying_code_invalidates_the_stale_translation", "[engine]") {
  stats::reset_all();
  Machine m;
  const uint32_t target = kCode + 0x100;
  m.code(target, [](x86::Assembler& a) {
    a.mov(x86::eax, 1);
    a.ret();
  });
  m.code(kCode, [&](x86::Assembler& a) {
    a.mov(x86::esi, target);
    a.call(x86::esi);  // translates target: eax = 1
    a.mov(x86::ebx, x86::eax);
    a.mov(x86::byte_ptr(target + 1), 2);  // patch the immediate: mov eax, 2
    a.call(x86::esi);
    a.hlt();
  });
  REQUIRE(m.run());
  CHECK(m.vcpu.gpr[kEbx] == 1);
  CHECK(m.vcpu.gpr[kEax] == 2);
  CHECK(stats::value_of("tc.invalidations") >= 1);
  CHECK(stats::value_of("traps.traced_write") >= 1);
}

TEST_CASE("engine_adds_fs_and_gs_bases_with_32bit_wraparound", "[engine]") {
  Machine m;
  const uint32_t fs_base = kData + 0x100;
  const uint32_t gs_base = 0xfff00000u;  // gs:[kData + 0x100000 + off] wraps to kData + off
  m.vcpu.seg[kFs].base = m.vcpu.seg_base_cache[kFs] = fs_base;
  m.vcpu.seg[kGs].base = m.vcpu.seg_base_cache[kGs] = gs_base;
  m.write32(fs_base + 0x10, 0xabcd0001);
  m.write32(fs_base + 0x20, 0x12340002);
  m.write32(kData + 0x40, 5);
  auto fs = [](x86::Mem mm) { mm.setSegment(x86::fs); return mm; };
  auto gs = [](x86::Mem mm) { mm.setSegment(x86::gs); return mm; };
  m.code(kCode, [&](x86::Assembler& a) {
    a.db(0x64); a.db(0xA1); a.dd(0x10);                     // mov eax, fs:[0x10] (moffs form)
    a.mov(x86::ebx, 0x30);
    a.mov(fs(x86::dword_ptr(x86::ebx, 4)), x86::eax);       // fs:[ebx+4] = eax
    a.mov(x86::ecx, 0x10);
    a.add(gs(x86::dword_ptr(x86::ecx, x86::ecx, 2, static_cast<int32_t>(kData + 0x100000 - 0x10))), 7);
    a.push(fs(x86::dword_ptr(0x20)));
    a.pop(x86::edx);
    a.push(x86::edx);
    a.pop(fs(x86::dword_ptr(0x50)));
    a.mov(x86::si, gs(x86::word_ptr(kData + 0x100000 + 0x40)));
    a.hlt();
  });
  REQUIRE(m.run());
  CHECK(m.vcpu.gpr[kEax] == 0xabcd0001);
  CHECK(m.read32(fs_base + 0x34) == 0xabcd0001);
  // gs:[ecx + ecx*4 + kData + 0x100000 - 0x10] = gs_base + kData + 0x100000 + 0x40 -> kData + 0x40
  CHECK(m.read32(kData + 0x40) == 12);
  CHECK(m.vcpu.gpr[kEdx] == 0x12340002);
  CHECK(m.read32(fs_base + 0x50) == 0x12340002);
  CHECK((m.vcpu.gpr[kEsi] & 0xffff) == 12);
  CHECK(m.vcpu.gpr[kEsp] == kStackTop);
}

TEST_CASE("engine_runs_cli_sti_pushfd_in_the_tc_on_the_virtual_if", "[engine]") {
  stats::reset_all();
  Machine m;
  m.code(kCode, [](x86::Assembler& a) {
    a.cli();
    a.pushfd();
    a.pop(x86::ebx);  // IF clear in the image
    a.sti();
    a.stc();
    a.pushfd();
    a.pop(x86::ecx);  // IF and CF set
    a.cli();
    a.hlt();
  });
  REQUIRE(m.run());
  CHECK(!(m.vcpu.gpr[kEbx] & kFlagIf));
  CHECK((m.vcpu.gpr[kEcx] & (kFlagIf | kFlagCf)) == (kFlagIf | kFlagCf));
  CHECK((m.vcpu.gpr[kEcx] & kFlagFixed1));
  CHECK(!(m.vcpu.eflags & kFlagIf));
  CHECK(stats::value_of("tc.monitor_exit_instructions") == 1);  // only the hlt
}

TEST_CASE("engine_flushes_a_full_tc_and_keeps_running_correctly", "[engine]") {
  stats::reset_all();
  Machine m(EngineConfig{.tc_size = 64 << 10});
  // 2000 blocks of `add eax, i; jmp next`, each its own CCF: far more than 64 KiB of host code.
  m.code(kCode, [](x86::Assembler& a) {
    for (int i = 0; i < 2000; ++i) {
      asmjit::Label next = a.newLabel();
      a.add(x86::eax, i);
      a.jmp(next);
      a.bind(next);
    }
    a.hlt();
  });
  m.vcpu.gpr[kEax] = 0;
  REQUIRE(m.run());
  CHECK(m.vcpu.gpr[kEax] == 1999 * 2000 / 2);
  CHECK(stats::value_of("tc.flushes") >= 1);
}

TEST_CASE("engine_measures_the_cost_of_a_monitor_exit_round_trip", "[engine][measure]") {
  stats::reset_all();
  Machine m;
  static constexpr uint32_t kIterations = 20000;
  m.code(kCode, [](x86::Assembler& a) {
    asmjit::Label loop = a.newLabel();
    a.mov(x86::esi, kIterations);
    a.bind(loop);
    a.out(0x80, x86::al);  // a callout: exit, fxsave/fxrstor, execute_instruction, re-enter
    a.dec(x86::esi);
    a.jnz(loop);
    a.hlt();
  });
  const auto t0 = std::chrono::steady_clock::now();
  REQUIRE(m.run());
  const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
  CHECK(m.vcpu.gpr[kEsi] == 0);
  CHECK(stats::value_of("tc.exits_monitor") >= kIterations);
  WARN(fmt::format("monitor exit round trip (out 0x80): {:.0f} ns per iteration, {} TC entries", ns / kIterations,
                   stats::value_of("tc.entries")));
}

namespace {
// Paging with the page directory at 0x300000 and the first page table at 0x301000, both inside the
// identity-mapped low 4 MiB, so guest code can write its own PTEs (traced page-table writes).
void identity_paging_writable_tables(Machine& m) {
  const uint32_t pd = 0x300000, pt = 0x301000;
  m.mem.fill(GuestPhysAddr(pd), 0, 2 * kPageSize);
  m.write32(pd, pt | 3);
  for (uint32_t i = 0; i < 1024; ++i) m.write32(pt + 4 * i, (i << 12) | 3);
  m.vcpu.cr3 = pd;
  m.vcpu.cr0 |= mmu::kCr0Pg;
  m.load_cr3(pd);
  m.set_cr0(m.vcpu.cr0);
}

void ptemod_loop(Machine& m) {
  identity_paging_writable_tables(m);
  // 50 writes to the PTE of an unused page (0x3ff000): each one hits the traced page table.
  m.code(kCode, [](x86::Assembler& a) {
    asmjit::Label loop = a.newLabel();
    a.mov(x86::edi, 0x301000 + 4 * 0x3ff);
    a.mov(x86::eax, 0x3ff003);
    a.mov(x86::ecx, 50);
    a.bind(loop);
    a.mov(x86::dword_ptr(x86::edi), x86::eax);
    a.add(x86::eax, 0x1000);
    a.loop(loop);
    a.hlt();
  });
}
}  // namespace

TEST_CASE("engine_retranslates_a_store_that_keeps_trapping_on_a_page_table_as_simulate", "[engine]") {
  stats::reset_all();
  Machine m;
  ptemod_loop(m);
  REQUIRE(m.run());
  CHECK(m.read32(0x301000 + 4 * 0x3ff) == 0x3ff003 + 49 * 0x1000);
  CHECK(stats::value_of("tc.retranslations") == 1);
  CHECK(stats::value_of("traps.traced_write") == 8);
  CHECK(stats::value_of("tc.simulated_stores") == 42);
}

TEST_CASE("engine_retranslates_xchg_and_locked_bit_operations_on_page_tables_as_simulate", "[engine]") {
  // Linux changes PTEs with xchg (ptep_get_and_clear) and lock btr (ptep_set_wrprotect), not only mov.
  stats::reset_all();
  Machine m;
  identity_paging_writable_tables(m);
  m.code(kCode, [](x86::Assembler& a) {
    asmjit::Label loop = a.newLabel();
    a.mov(x86::edi, 0x301000 + 4 * 0x3ff);
    a.mov(x86::ebx, 0);
    a.mov(x86::ecx, 50);
    a.bind(loop);
    a.mov(x86::eax, 0x3ff003);
    a.xchg(x86::dword_ptr(x86::edi), x86::eax);  // eax = the old PTE
    a.add(x86::ebx, x86::eax);
    a.lock().btr(x86::dword_ptr(x86::edi), 1);  // clear R/W
    a.loop(loop);
    a.hlt();
  });
  REQUIRE(m.run());
  CHECK(m.read32(0x301000 + 4 * 0x3ff) == 0x3ff001);
  // The first xchg reads the original 0x3ff003, the other 49 read what btr left (0x3ff001).
  CHECK(m.vcpu.gpr[kEbx] == 0x3ff003 + 49 * 0x3ff001);
  CHECK(stats::value_of("tc.retranslations") == 2);
  CHECK(stats::value_of("traps.traced_write") == 16);  // 8 each before the threshold
  CHECK(stats::value_of("tc.simulated_stores") == 2 * 42);
}

TEST_CASE("engine_returns_a_simulate_instruction_the_monitor_cannot_perform_to_ident", "[engine]") {
  // cmpxchg8b is not among the monitor's emulated instructions (runtime/cpu/emulate_memory.h), and it
  // writes its destination whether or not the comparison succeeds (SDM vol. 2 CMPXCHG8B). After the
  // threshold it is tried as SIMULATE once, then translated IDENT again for good; every write stays exact.
  stats::reset_all();
  Machine m;
  identity_paging_writable_tables(m);
  m.code(kCode, [](x86::Assembler& a) {
    asmjit::Label loop = a.newLabel();
    a.mov(x86::edi, 0x301000 + 4 * 0x3fe);  // the PTEs of 0x3fe000 and 0x3ff000
    a.mov(x86::esi, 50);
    a.bind(loop);
    a.mov(x86::eax, 0x3fe003);
    a.mov(x86::edx, 0x3ff003);
    a.mov(x86::ebx, 0x3fe001);
    a.mov(x86::ecx, 0x3ff001);
    a.cmpxchg8b(x86::qword_ptr(x86::edi));  // succeeds once, then only writes the old value back
    a.dec(x86::esi);
    a.jnz(loop);
    a.hlt();
  });
  REQUIRE(m.run());
  CHECK(m.read32(0x301000 + 4 * 0x3fe) == 0x3fe001);
  CHECK(m.read32(0x301000 + 4 * 0x3ff) == 0x3ff001);
  CHECK(m.vcpu.gpr[kEax] == 0x3fe001);  // the last, failed comparison loaded the current value
  CHECK(stats::value_of("tc.unsimulated") == 1);
  CHECK(stats::value_of("tc.simulated_stores") == 0);
  CHECK(stats::value_of("traps.traced_write") == 50);
}

TEST_CASE("engine_without_adaptation_traps_on_every_page_table_write", "[engine]") {
  stats::reset_all();
  Machine m(EngineConfig{.adaptive_threshold = 0});
  ptemod_loop(m);
  REQUIRE(m.run());
  CHECK(m.read32(0x301000 + 4 * 0x3ff) == 0x3ff003 + 49 * 0x1000);
  CHECK(stats::value_of("tc.retranslations") == 0);
  CHECK(stats::value_of("traps.traced_write") == 50);
}

TEST_CASE("engine_rechecks_translations_after_cr3_loads_and_reuses_unchanged_code", "[engine]") {
  stats::reset_all();
  Machine m;
  const auto [pd1, pd2] = two_address_spaces_differing_at_0x3f0000(m);
  m.code(kCode, [&](x86::Assembler& a) {
    asmjit::Label again = a.newLabel();
    a.mov(x86::edi, 2);  // twice: the second round finds every CCF again after a CR3 load
    a.bind(again);
    a.mov(x86::esi, 0x3f0000);
    a.call(x86::esi);
    a.mov(x86::ebx, x86::eax);  // 1
    a.mov(x86::ecx, pd2);
    a.mov(x86::cr3, x86::ecx);
    a.call(x86::esi);
    a.mov(x86::edx, x86::eax);  // 2
    a.mov(x86::ecx, pd1);
    a.mov(x86::cr3, x86::ecx);
    a.call(x86::esi);           // 1 again
    a.dec(x86::edi);
    a.jnz(again);
    a.hlt();
  });
  REQUIRE(m.run());
  CHECK(m.vcpu.gpr[kEbx] == 1);
  CHECK(m.vcpu.gpr[kEdx] == 2);
  CHECK(m.vcpu.gpr[kEax] == 1);
  // Only the callee's CCF loses its mapping at each of the four CR3 loads: the identity-mapped
  // caller's CCFs pass the re-walk and stay chained.
  CHECK(stats::value_of("tc.stale") == 4);
  CHECK(stats::value_of("tc.cr3_rechecks") >= 4);
}
