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
