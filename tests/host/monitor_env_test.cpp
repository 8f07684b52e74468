#include <catch2/catch.hpp>

#include <cstring>

#include "mmu/paging.h"
#include "runtime/monitor_env.h"

using namespace btvmm;
using namespace btvmm::runtime;

namespace {
// Guest with paging on: PD at 0x1000, one PT at 0x2000 mapping linear 0x400000.. ; page
// 0x400000 -> phys 0x5000 (user, writable), 0x401000 -> phys 0x7000 (supervisor, read-only).
struct PagedGuest {
  mmu::GuestMemory mem{1 << 20};
  mmu::WriteTraces traces;
  devices::PortBus ports;
  devices::MmioBus mmio;
  VcpuState vcpu;
  MonitorEnv env{vcpu, mem, traces, ports, mmio};
  PagedGuest() {
    uint32_t pde = 0x2000 | mmu::kPtePresent | mmu::kPteWritable | mmu::kPteUser;
    mem.write_obj(GuestPhysAddr(0x1000 + 4 * 1), pde);
    uint32_t pte0 = 0x5000 | mmu::kPtePresent | mmu::kPteWritable | mmu::kPteUser;
    uint32_t pte1 = 0x7000 | mmu::kPtePresent;
    mem.write_obj(GuestPhysAddr(0x2000), pte0);
    mem.write_obj(GuestPhysAddr(0x2004), pte1);
    vcpu.cr3 = 0x1000;
    vcpu.cr0 = mmu::kCr0Pe | mmu::kCr0Pg | mmu::kCr0Wp;
  }
};
}  // namespace

TEST_CASE("monitor_env_write_spanning_two_pages_faults_before_writing_anything") {
  PagedGuest g;
  uint8_t data[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  // Last 4 bytes of the writable page + first 4 of the read-only one (CR0.WP=1: supervisor faults).
  auto e = g.env.write_linear(0x400ffc, data, 8, false);
  REQUIRE(e);
  CHECK(e->vector == kPf);
  CHECK(e->cr2 == 0x401000);
  CHECK(e->error_code == (mmu::kPfPresent | mmu::kPfWrite));
  uint32_t untouched = 0xffffffff;
  g.mem.read_obj(GuestPhysAddr(0x5ffc), untouched);
  CHECK(untouched == 0);
}

TEST_CASE("monitor_env_reads_and_writes_through_guest_paging_and_sets_dirty") {
  PagedGuest g;
  uint32_t v = 0xdeadbeef;
  REQUIRE_FALSE(g.env.write_linear(0x400010, &v, 4, true));
  uint32_t back = 0;
  g.mem.read_obj(GuestPhysAddr(0x5010), back);
  CHECK(back == 0xdeadbeef);
  uint32_t pte0 = 0;
  g.mem.read_obj(GuestPhysAddr(0x2000), pte0);
  CHECK((pte0 & (mmu::kPteAccessed | mmu::kPteDirty)) == (mmu::kPteAccessed | mmu::kPteDirty));
  uint32_t r = 0;
  REQUIRE_FALSE(g.env.read_linear(0x400010, &r, 4, false));
  CHECK(r == 0xdeadbeef);
  // User read of the supervisor page: #PF with U/S and P set.
  auto e = g.env.read_linear(0x401000, &r, 4, true);
  REQUIRE(e);
  CHECK(e->error_code == (mmu::kPfPresent | mmu::kPfUser));
}

TEST_CASE("monitor_env_reports_emulated_writes_to_traced_pages") {
  PagedGuest g;
  int calls = 0;
  g.traces.on_write(mmu::TraceKind::kCode, [&](Ppn page, uint32_t offset) {
    CHECK(page.value == 5);
    CHECK(offset == 0x20);
    ++calls;
  });
  g.traces.add(Ppn(5), mmu::TraceKind::kCode);
  uint16_t v = 0x9090;
  REQUIRE_FALSE(g.env.write_linear(0x400020, &v, 2, false));
  CHECK(calls == 1);
}

// REP MOVS/STOS runs (CpuEnv::copy_linear/fill_linear): done through the guest's paging with the
// dirty bit and write traces as single writes would, and refused with nothing changed where a
// single access would fault or where two linear pages alias one frame with overlapping bytes.
TEST_CASE("monitor_env_string_runs_follow_paging_report_traces_and_refuse_what_would_fault") {
  PagedGuest g;
  // A third mapping, 0x402000 -> phys 0x5000 again: an alias of the first page.
  g.mem.write_obj(GuestPhysAddr(0x2008), uint32_t(0x5000 | mmu::kPtePresent | mmu::kPteWritable | mmu::kPteUser));
  int traced = 0;
  g.traces.on_write(mmu::TraceKind::kCode, [&](Ppn page, uint32_t) {
    CHECK(page.value == 5);
    ++traced;
  });
  g.traces.add(Ppn(5), mmu::TraceKind::kCode);

  REQUIRE(g.env.fill_linear(0x400100, 0x11223344, 4, 64, false));
  uint32_t v = 0;
  g.mem.read_obj(GuestPhysAddr(0x5100 + 60), v);
  CHECK(v == 0x11223344);
  uint32_t pte0 = 0;
  g.mem.read_obj(GuestPhysAddr(0x2000), pte0);
  CHECK((pte0 & mmu::kPteDirty) != 0);
  CHECK(traced >= 1);

  // Copy from the read-only supervisor page into the user page: allowed at CPL 0.
  g.mem.write_obj(GuestPhysAddr(0x7000), uint32_t(0xcafef00d));
  REQUIRE(g.env.copy_linear(0x400200, 0x401000, 16, false));
  g.mem.read_obj(GuestPhysAddr(0x5200), v);
  CHECK(v == 0xcafef00d);

  // Refused, memory untouched: a write to the read-only page (CR0.WP), a user read of the
  // supervisor page, a run leaving its page, an unmapped page, overlapping bytes through the alias.
  g.mem.write_obj(GuestPhysAddr(0x7000), uint32_t(0));
  CHECK_FALSE(g.env.fill_linear(0x401000, 0xffffffff, 4, 16, false));
  CHECK_FALSE(g.env.copy_linear(0x400300, 0x401000, 16, true));
  CHECK_FALSE(g.env.fill_linear(0x400ff0, 0xffffffff, 4, 32, false));
  CHECK_FALSE(g.env.fill_linear(0x403000, 0xffffffff, 4, 16, false));
  CHECK_FALSE(g.env.copy_linear(0x402104, 0x400100, 64, false));
  g.mem.read_obj(GuestPhysAddr(0x7000), v);
  CHECK(v == 0);
  g.mem.read_obj(GuestPhysAddr(0x5300), v);
  CHECK(v == 0);
  g.mem.read_obj(GuestPhysAddr(0x5100 + 4), v);
  CHECK(v == 0x11223344);
}

// The monitor's TLB (monitor_env.h) holds what a processor TLB may: a translation stays in use
// until INVLPG or a CR3 load, a write through an entry made by a read still walks to set D, and
// a cached entry never grants what the entry's rights refuse.
TEST_CASE("monitor_env_tlb_keeps_translations_until_invlpg_or_cr3_and_never_skips_d_or_rights") {
  PagedGuest g;
  g.mem.write_obj(GuestPhysAddr(0x5040), uint32_t(0x55555555));
  g.mem.write_obj(GuestPhysAddr(0x6040), uint32_t(0x66666666));
  uint32_t v = 0;
  REQUIRE_FALSE(g.env.read_linear(0x400040, &v, 4, true));
  CHECK(v == 0x55555555);
  uint32_t pte0 = 0;
  g.mem.read_obj(GuestPhysAddr(0x2000), pte0);
  CHECK((pte0 & mmu::kPteDirty) == 0);

  // Write through the entry a read made: the walk sets D.
  REQUIRE_FALSE(g.env.write_linear(0x400044, &v, 4, true));
  g.mem.read_obj(GuestPhysAddr(0x2000), pte0);
  CHECK((pte0 & mmu::kPteDirty) != 0);

  // The guest repoints the page without INVLPG: the old translation may still be used.
  g.mem.write_obj(GuestPhysAddr(0x2000), uint32_t(0x6000 | mmu::kPtePresent | mmu::kPteWritable | mmu::kPteUser));
  REQUIRE_FALSE(g.env.read_linear(0x400040, &v, 4, true));
  CHECK(v == 0x55555555);
  g.env.paging_changed(PagingEvent::kInvlpg, 0x400000);
  REQUIRE_FALSE(g.env.read_linear(0x400040, &v, 4, true));
  CHECK(v == 0x66666666);

  // A CR3 load seen only in the vCPU state (no hook call) also empties it.
  g.mem.write_obj(GuestPhysAddr(0x2000), uint32_t(0x5000 | mmu::kPtePresent | mmu::kPteWritable | mmu::kPteUser));
  g.mem.write_obj(GuestPhysAddr(0x3000 + 4), uint32_t(0x2000 | mmu::kPtePresent | mmu::kPteWritable | mmu::kPteUser));
  g.vcpu.cr3 = 0x3000;
  REQUIRE_FALSE(g.env.read_linear(0x400040, &v, 4, true));
  CHECK(v == 0x55555555);

  // Supervisor read of the supervisor page cached; user read and supervisor write still fault.
  REQUIRE_FALSE(g.env.read_linear(0x401000, &v, 4, false));
  auto e = g.env.read_linear(0x401000, &v, 4, true);
  REQUIRE(e);
  CHECK(e->error_code == (mmu::kPfPresent | mmu::kPfUser));
  e = g.env.write_linear(0x401000, &v, 4, false);
  REQUIRE(e);
  CHECK(e->error_code == (mmu::kPfPresent | mmu::kPfWrite));
}
