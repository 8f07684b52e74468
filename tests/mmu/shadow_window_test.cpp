// The shadow MMU over the real window (ShadowMmu + WindowMapper): guest accesses are real host
// loads and stores at window base + linear address, host faults are filled like the runtime
// will, and invalidation is checked by touching pages again. Not built with ASan (DESIGN.md 7).
#include <catch2/catch.hpp>

#include <fstream>
#include <string>
#include <vector>

#include "core/stats.h"
#include "mmu/window_mapper.h"
#include "tests/mmu/guest_page_tables.h"
#include "tests/mmu/window_fixture.h"

using namespace btvmm;
using namespace btvmm::mmu;
using namespace btvmm::mmu::testing;

namespace {

struct Fixture {
  Window& window = test_window();
  GuestMemory mem{kRam};
  GuestPageTables pt{mem, kPd, kTables};
  WindowMapper mapper{window, mem.machine().fd()};
  WriteTraces traces;

  ShadowMmu make(uint32_t cr0 = kPg, uint32_t cr4 = 0, ShadowView view = ShadowView::kSupervisor,
                 uint32_t prefetch = 1) {
    stats::reset_all();
    ShadowConfig cfg;
    cfg.view = view;
    cfg.prefetch_pages = prefetch;
    return ShadowMmu(mem, mapper, traces, GuestPagingState{cr0, pt.cr3(), cr4}, cfg);
  }
  GuestAccess access(ShadowMmu& s, uint32_t la, bool write, uint32_t& v) {
    return guest_access(s, window, mem, la, write, v);
  }
  bool touches(uint32_t la, bool write = false) {
    uint32_t v = 0;
    return host_access(window.host(LinearAddr(la)), write, v);
  }
  uint32_t phys32(uint32_t pa) {
    uint32_t v = 0;
    mem.read_obj(GuestPhysAddr(pa), v);
    return v;
  }
};

// File-backed mappings of the machine memory inside the window, as /proc/self/maps lists them.
int machine_memory_vmas() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  int n = 0;
  while (std::getline(maps, line)) {
    unsigned long long start = 0;
    if (std::sscanf(line.c_str(), "%llx", &start) == 1 && start < kWindowSize &&
        line.find("btvmm-machine-memory") != std::string::npos)
      ++n;
  }
  return n;
}

}  // namespace

TEST_CASE("filled_mapping_makes_window_loads_and_stores_hit_the_guest_physical_page") {
  Fixture f;
  f.mem.pmap().set(Ppn(0x300), Mpn(0x301));  // the pmap, not identity, decides the machine page
  f.mem.pmap().set(Ppn(0x301), Mpn(0x300));
  f.pt.map4k(0x08048000, 0x300000, kRw | kUs);
  f.mem.write_obj(GuestPhysAddr(0x300ff0), uint32_t(0x11223344));
  ShadowMmu s = f.make();
  CHECK_FALSE(f.touches(0x08048ff0));
  uint32_t v = 0;
  REQUIRE(f.access(s, 0x08048ff0, false, v).status == FillStatus::kMapped);
  CHECK(v == 0x11223344);
  v = 0xcafef00d;
  GuestAccess w = f.access(s, 0x08048010, true, v);
  REQUIRE(w.status == FillStatus::kMapped);
  CHECK(w.host_faults == 1);  // read-only until the first write sets D
  CHECK(f.phys32(0x300010) == 0xcafef00d);
  CHECK(*reinterpret_cast<uint32_t*>(f.mem.machine().page(Mpn(0x301)) + 0x10) == 0xcafef00d);
  CHECK((f.pt.pte(0x08048000) & (kPteAccessed | kPteDirty)) == (kPteAccessed | kPteDirty));
  CHECK(f.pt.pde(0x08048000) & kPteAccessed);
  CHECK_FALSE(f.pt.pde(0x08048000) & kPteDirty);
}

TEST_CASE("window_faults_the_guest_tables_explain_are_reflected_with_error_code_and_cr2") {
  Fixture f;
  f.pt.map4k(0x400000, 0x5000, kUs);         // user, read-only
  f.pt.map4k(0x401000, 0x6000, kRw);         // supervisor only
  f.pt.map4m(0x800000, 0x400000, kRw | kUs);  // PSE, user
  uint32_t v = 1;

  {
    ShadowMmu user = f.make(kPg, kCr4Pse, ShadowView::kUser);
    GuestAccess np = f.access(user, 0x00c00040, false, v);
    REQUIRE(np.fault);
    CHECK(np.fault->cr2.value == 0x00c00040);
    CHECK(np.fault->error_code == kPfUser);
    GuestAccess sup = f.access(user, 0x401008, false, v);
    REQUIRE(sup.fault);
    CHECK(sup.fault->error_code == (kPfPresent | kPfUser));
    CHECK_FALSE(f.touches(0x401000));
    GuestAccess ro = f.access(user, 0x400000, true, v);
    REQUIRE(ro.fault);
    CHECK(ro.fault->error_code == (kPfPresent | kPfWrite | kPfUser));
    CHECK(f.access(user, 0x400000, false, v).status == FillStatus::kMapped);  // reading it is fine
    CHECK(f.access(user, 0x9ffffc, true, v).status == FillStatus::kMapped);   // last word of the PSE page
    CHECK(f.phys32(0x5ffffc) == v);
  }
  {
    ShadowMmu wp = f.make(kPg | kCr0Wp, kCr4Pse);
    GuestAccess swp = f.access(wp, 0x400004, true, v);
    REQUIRE(swp.fault);
    CHECK(swp.fault->error_code == (kPfPresent | kPfWrite));
  }
  ShadowMmu no_wp = f.make(kPg, kCr4Pse);
  v = 0xabcdef01;
  REQUIRE(f.access(no_wp, 0x400004, true, v).status == FillStatus::kMapped);
  CHECK(f.phys32(0x5004) == 0xabcdef01);
}

TEST_CASE("invlpg_after_a_pte_write_and_cr3_load_really_unmap_from_the_window") {
  Fixture f;
  f.pt.map4k(0x1000, 0x5000, kRw | kPteDirty);
  f.pt.map4k(0x2000, 0x6000, kRw | kPteDirty);
  ShadowMmu s = f.make();
  uint32_t v = 0;
  REQUIRE(f.access(s, 0x1000, false, v).status == FillStatus::kMapped);
  REQUIRE(f.access(s, 0x2000, false, v).status == FillStatus::kMapped);
  CHECK(f.touches(0x1000));
  CHECK(f.touches(0x2000, true));
  s.invlpg(LinearAddr(0x1800));  // no entry written: the mapping is still exact and stays
  CHECK(f.touches(0x1000));
  f.pt.set_pte(0x1000, 0);
  f.traces.report_physical_write(f.pt.pte_addr(0x1000), 4);
  s.invlpg(LinearAddr(0x1800));
  CHECK_FALSE(f.touches(0x1000));
  CHECK(f.touches(0x2000));
  s.load_cr3(f.pt.cr3());  // the same directory: the mapping is still exact, so it stays
  CHECK(f.touches(0x2000));
  GuestPageTables other{f.mem, 0x40000, 0x41000};
  s.load_cr3(other.cr3());
  CHECK_FALSE(f.touches(0x2000));
  CHECK(machine_memory_vmas() == 0);
}

// Every VMA inside the window, the reservation's own PROT_NONE pieces included.
int window_vmas(const Window& w) {
  const auto lo = reinterpret_cast<unsigned long long>(w.host(LinearAddr(0)));
  const unsigned long long hi = lo + kWindowSize;
  std::ifstream maps("/proc/self/maps");
  std::string line;
  int n = 0;
  while (std::getline(maps, line)) {
    unsigned long long start = 0, end = 0;
    if (std::sscanf(line.c_str(), "%llx-%llx", &start, &end) == 2 && start < hi && end > lo) ++n;
  }
  return n;
}

// ShadowMmu::vma_estimate bounds what the host really counts (vm.max_map_count is about the
// host's count): runs of scattered frames, adjacent or apart, and the reservation's pieces between.
TEST_CASE("vma_estimate_is_never_below_the_host_vmas_the_mappings_add_to_the_window") {
  Fixture f;
  for (uint32_t i = 0; i < 24; ++i) f.pt.map4k(0x100000 + i * 0x1000, 0x300000 - i * 0x1000, kRw | kPteDirty);
  for (uint32_t i = 0; i < 8; ++i) f.pt.map4k(0x400000 + i * 0x3000, 0x200000 + i * 0x1000, kRw | kPteDirty);
  ShadowMmu s = f.make();
  const int before = window_vmas(f.window);
  uint32_t v = 0;
  for (uint32_t i = 0; i < 24; ++i) REQUIRE(f.access(s, 0x100000 + i * 0x1000, false, v).status == FillStatus::kMapped);
  CHECK(window_vmas(f.window) - before == 25);  // 24 unmergeable pages and the gap after them
  CHECK(s.vma_estimate() == 25);
  for (uint32_t i = 0; i < 8; ++i) REQUIRE(f.access(s, 0x400000 + i * 0x3000, false, v).status == FillStatus::kMapped);
  CHECK(window_vmas(f.window) - before == 41);
  CHECK(s.vma_estimate() == 41);
  s.flush();
  CHECK(window_vmas(f.window) == before);
}

TEST_CASE("one_host_unmap_sweeps_dropped_runs_and_the_reservation_between_them_stays_inaccessible") {
  Fixture f;
  for (uint32_t la : {0x10000u, 0x30000u, 0x200000u}) f.pt.map4k(la, la + 0x100000, kRw | kPteDirty);
  f.pt.map4k(0xC0100000, 0x90000, kRw | kPteDirty | kPteGlobal);
  ShadowMmu s = f.make(kPg, kCr4Pge);
  uint32_t v = 0;
  for (uint32_t la : {0x10000u, 0x30000u, 0x200000u, 0xC0100000u})
    REQUIRE(f.access(s, la, false, v).status == FillStatus::kMapped);
  const uint64_t unmaps = stats::value_of("shadow.host_unmaps");
  GuestPageTables other{f.mem, 0x40000, 0x41000};
  s.load_cr3(other.cr3());
  CHECK(stats::value_of("shadow.host_unmaps") == unmaps + 1);
  for (uint32_t la : {0x10000u, 0x20000u, 0x30000u, 0x100000u, 0x200000u}) CHECK_FALSE(f.touches(la));
  CHECK(f.touches(0xC0100000));
  CHECK(machine_memory_vmas() == 1);
  s.flush();
}

TEST_CASE("code_trace_in_the_window_turns_writes_into_callbacks_and_keeps_reads_fast") {
  Fixture f;
  f.pt.map4k(0xC0100000, 0x100000, kRw | kPteDirty);
  ShadowMmu s = f.make();
  std::vector<uint32_t> offsets;
  s.traces().on_write(TraceKind::kCode, [&](Ppn p, uint32_t off) {
    CHECK(p.value == 0x100);
    offsets.push_back(off);
  });
  uint32_t v = 0;
  REQUIRE(f.access(s, 0xC0100000, true, v).status == FillStatus::kMapped);
  s.traces().add(Ppn(0x100), TraceKind::kCode);
  CHECK(f.touches(0xC0100000));
  CHECK_FALSE(f.touches(0xC0100000, true));
  v = 0xc3c3c3c3;
  GuestAccess w = f.access(s, 0xC0100124, true, v);
  CHECK(w.status == FillStatus::kTracedWrite);
  CHECK(offsets == std::vector<uint32_t>{0x124});
  CHECK(f.phys32(0x100124) == 0xc3c3c3c3);
  uint64_t trace_faults = 0;
  for (const auto& c : stats::snapshot())
    if (c.name == "shadow.trace_faults_code") trace_faults = c.value;
  CHECK(trace_faults == 1);
}

TEST_CASE("page_table_write_through_the_window_drops_the_mapping_it_changes_at_the_next_invlpg") {
  Fixture f;
  f.pt.map4k(0x1000, 0x5000, kRw | kPteDirty);
  const uint32_t table = f.pt.pde(0x1000) & kPteFrameMask;
  f.pt.map4k(0xC0000000 + table, table, kRw | kPteDirty);  // the kernel's linear map of the table
  f.mem.write_obj(GuestPhysAddr(0x5000), uint32_t(5));
  f.mem.write_obj(GuestPhysAddr(0x7000), uint32_t(7));
  ShadowMmu s = f.make();
  int pt_calls = 0;
  s.traces().on_write(TraceKind::kPageTable, [&](Ppn, uint32_t) { ++pt_calls; });
  uint32_t v = 0;
  REQUIRE(f.access(s, 0x1000, false, v).status == FillStatus::kMapped);
  CHECK(v == 5);
  v = 0x7000 | kPtePresent | kRw | kPteDirty;
  CHECK(f.access(s, 0xC0000000 + table + 4, true, v).status == FillStatus::kTracedWrite);
  CHECK(pt_calls == 1);
  // Until the guest invalidates, the old translation stays usable, as from a TLB (SDM vol. 3A 4.10.4.3).
  CHECK(f.touches(0x1000));
  s.invlpg(LinearAddr(0x1000));
  CHECK_FALSE(f.touches(0x1000));
  REQUIRE(f.access(s, 0x1000, false, v).status == FillStatus::kMapped);
  CHECK(v == 7);
}

TEST_CASE("prefetched_contiguous_pages_cost_one_vma") {
  Fixture f;
  for (uint32_t i = 0; i < 16; ++i)
    f.pt.map4k(0x00400000 + i * 0x1000, 0x200000 + i * 0x1000, kRw | kPteAccessed | kPteDirty);
  ShadowMmu s = f.make(kPg, 0, ShadowView::kSupervisor, 16);
  uint32_t v = 0;
  REQUIRE(f.access(s, 0x00405000, false, v).status == FillStatus::kMapped);
  for (uint32_t i = 0; i < 16; ++i) CHECK(f.touches(0x00400000 + i * 0x1000, true));
  CHECK(machine_memory_vmas() == 1);
  CHECK(s.vma_estimate() == 2);
  s.flush();
  CHECK(machine_memory_vmas() == 0);
}

TEST_CASE("linear_page_zero_is_never_mapped_and_left_to_emulation") {
  Fixture f;
  f.pt.map4k(0x0, 0x5000, kRw | kPteDirty);
  ShadowMmu s = f.make();
  uint32_t v = 0;
  GuestAccess a = f.access(s, 0x10, false, v);
  CHECK(a.status == FillStatus::kEmulate);
  CHECK_FALSE(f.touches(0x10));
}
