// The TC event trace (`-d tc`, runtime/engine/tc_events.h, translator/trace_dump.h): small guests
// in the engine's test machine make the engine retranslate, invalidate, mark stale, re-check and
// flush; each event must reach the trace hook once, naming the right guest address and CCFs, and
// read as such in its formatted text.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "engine_fixture.h"
#include "translator/trace_dump.h"

using namespace btvmm;
using namespace btvmm::engine_test;
using translator::TcEvent;
namespace x86 = asmjit::x86;

namespace {

// What the hook saw (the event's spans only live during the call).
struct Seen {
  TcEvent::Kind kind;
  uint32_t addr = 0;
  uint32_t page = 0;
  uint64_t traps = 0;
  uint64_t count = 0;
  bool kept = false;
  std::string reason;
  std::vector<uint32_t> ccf_eips;
  std::string text;
  uint64_t made_before = 0;  // CCFs translated before the event

  bool has_ccf(uint32_t eip_of_ccf) const {
    return std::find(ccf_eips.begin(), ccf_eips.end(), eip_of_ccf) != ccf_eips.end();
  }
};

std::vector<Seen> record(Machine& m) {
  auto seen = std::make_shared<std::vector<Seen>>();
  auto made = std::make_shared<uint64_t>(0);
  m.engine->set_trace([made](const CcfTraceEvent&) { ++*made; });
  m.engine->set_event_trace([seen, made](const TcEvent& e) {
    Seen s{e.kind, e.addr, e.page, e.traps, e.count, e.kept, std::string(e.reason), {}, translator::format_tc_event(e),
           *made};
    for (const translator::Ccf* c : e.ccfs) s.ccf_eips.push_back(c->key.eip);
    seen->push_back(std::move(s));
  });
  REQUIRE(m.run());
  return *seen;
}

std::vector<Seen> of_kind(const std::vector<Seen>& all, TcEvent::Kind k) {
  std::vector<Seen> v;
  std::copy_if(all.begin(), all.end(), std::back_inserter(v), [k](const Seen& s) { return s.kind == k; });
  return v;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Paging with the page directory at 0x300000 and its first table at 0x301000, identity-mapping the
// low 4 MiB writable (the tables included, so guest code can write its own PTEs).
void identity_paging(Machine& m) {
  const uint32_t pd = 0x300000, pt = 0x301000;
  m.mem.fill(GuestPhysAddr(pd), 0, 2 * kPageSize);
  m.write32(pd, pt | 3);
  for (uint32_t i = 0; i < 1024; ++i) m.write32(pt + 4 * i, (i << 12) | 3);
  m.vcpu.cr3 = pd;
  m.vcpu.cr0 |= mmu::kCr0Pg;
  m.load_cr3(pd);
  m.set_cr0(m.vcpu.cr0);
}

}  // namespace

TEST_CASE("tc_trace_reports_one_retranslation_at_the_store_that_kept_trapping", "[engine][trace]") {
  Machine m;
  identity_paging(m);
  uint32_t store = 0, loop_eip = 0;
  m.code(kCode, [&](x86::Assembler& a) {
    asmjit::Label loop = a.newLabel();
    a.mov(x86::edi, 0x301000 + 4 * 0x3ff);  // PTE of an unused page: a traced page-table write
    a.mov(x86::eax, 0x3ff003);
    a.mov(x86::ecx, 50);
    a.bind(loop);
    loop_eip = kCode + static_cast<uint32_t>(a.offset());
    store = loop_eip;
    a.mov(x86::dword_ptr(x86::edi), x86::eax);
    a.add(x86::eax, 0x1000);
    a.loop(loop);
    a.hlt();
  });
  const std::vector<Seen> seen = record(m);
  const std::vector<Seen> r = of_kind(seen, TcEvent::Kind::kRetranslation);
  REQUIRE(r.size() == 1);
  CHECK(r[0].addr == store);
  CHECK(r[0].traps == 8);  // EngineConfig's default threshold
  REQUIRE(r[0].ccf_eips.size() == 1);
  CHECK(r[0].ccf_eips[0] == loop_eip);  // the loop body's CCF, which holds the store
  CHECK(contains(r[0].text, fmt::format("RETRANSLATE guest {:#010x}: 8 traced-write traps", store)));
  CHECK(contains(r[0].text, fmt::format("  ccf {:#010x} cpl 0 (host ", loop_eip)));
  CHECK(of_kind(seen, TcEvent::Kind::kFlush).empty());
}

TEST_CASE("tc_trace_reports_the_code_page_a_store_invalidated_and_its_ccfs", "[engine][trace]") {
  Machine m;
  const uint32_t target = kCode + 0x100;
  m.code(target, [](x86::Assembler& a) {
    a.mov(x86::eax, 1);
    a.ret();
  });
  m.code(kCode, [&](x86::Assembler& a) {
    a.mov(x86::esi, target);
    a.call(x86::esi);
    a.mov(x86::ebx, x86::eax);
    a.mov(x86::byte_ptr(target + 1), 2);  // mov eax, 1 -> mov eax, 2
    a.call(x86::esi);
    a.hlt();
  });
  const std::vector<Seen> seen = record(m);
  CHECK(m.vcpu.gpr[kEax] == 2);
  const std::vector<Seen> inv = of_kind(seen, TcEvent::Kind::kInvalidation);
  REQUIRE(!inv.empty());
  CHECK(inv[0].page == kCode >> kPageShift);
  CHECK(inv[0].has_ccf(target));
  CHECK(contains(inv[0].text, fmt::format("INVALIDATE guest-physical page {:#010x}: code written", kCode)));
  CHECK(contains(inv[0].text, fmt::format("  ccf {:#010x} cpl 0 (host ", target)));
  CHECK(of_kind(seen, TcEvent::Kind::kRetranslation).empty());
}

TEST_CASE("tc_trace_reports_a_flush_of_a_full_tc_with_its_reason_and_guest_eip", "[engine][trace]") {
  Machine m(EngineConfig{.tc_size = 64 << 10});
  std::vector<uint32_t> blocks;
  m.code(kCode, [&](x86::Assembler& a) {
    for (int i = 0; i < 2000; ++i) {
      asmjit::Label next = a.newLabel();
      blocks.push_back(kCode + static_cast<uint32_t>(a.offset()));
      a.add(x86::eax, i);
      a.jmp(next);
      a.bind(next);
    }
    a.hlt();
  });
  const std::vector<Seen> seen = record(m);
  const std::vector<Seen> f = of_kind(seen, TcEvent::Kind::kFlush);
  REQUIRE(!f.empty());
  CHECK(f[0].reason == "TC full");
  // The block whose translation did not fit; every CCF made before it is dropped (each block is
  // translated once, and a block split by a page boundary makes two CCFs).
  CHECK(std::find(blocks.begin(), blocks.end(), f[0].addr) != blocks.end());
  CHECK(f[0].count == f[0].made_before);
  CHECK(f[0].count > 100);
  CHECK(contains(f[0].text, fmt::format("FLUSH (TC full) at guest {:#010x}: {} CCF(s) dropped", f[0].addr, f[0].count)));
}

TEST_CASE("tc_trace_reports_invlpg_stale_marking_and_the_recheck_that_reuses_the_ccf", "[engine][trace]") {
  Machine m;
  identity_paging(m);
  const uint32_t sub = 0x180000;  // its own page, mapped the same way before and after the INVLPG
  m.code(sub, [](x86::Assembler& a) {
    a.mov(x86::eax, 7);
    a.ret();
  });
  m.code(kCode, [&](x86::Assembler& a) {
    a.mov(x86::esi, sub);
    a.call(x86::esi);
    a.invlpg(x86::ptr(sub));
    a.call(x86::esi);
    a.hlt();
  });
  const std::vector<Seen> seen = record(m);
  CHECK(m.vcpu.gpr[kEax] == 7);
  const std::vector<Seen> stale = of_kind(seen, TcEvent::Kind::kStale);
  REQUIRE(stale.size() == 1);
  CHECK(stale[0].reason == "invlpg");
  CHECK(stale[0].addr == sub);
  CHECK(stale[0].ccf_eips == std::vector<uint32_t>{sub});
  CHECK(contains(stale[0].text, fmt::format("STALE invlpg {:#010x}: 1 CCF(s)", sub)));
  const std::vector<Seen> re = of_kind(seen, TcEvent::Kind::kRevalidation);
  REQUIRE(re.size() == 1);
  CHECK(re[0].addr == sub);
  CHECK(re[0].kept);
  CHECK(contains(re[0].text, fmt::format("REVALIDATE guest {:#010x}: code still maps", sub)));
}

TEST_CASE("tc_trace_reports_cr3_stale_marking_and_the_recheck_that_drops_moved_code", "[engine][trace]") {
  Machine m;
  const auto [pd1, pd2] = two_address_spaces_differing_at_0x3f0000(m);
  m.code(kCode, [&](x86::Assembler& a) {
    a.mov(x86::esi, 0x3f0000);
    a.call(x86::esi);
    a.mov(x86::ecx, pd2);
    a.mov(x86::cr3, x86::ecx);
    a.call(x86::esi);
    a.hlt();
  });
  const std::vector<Seen> seen = record(m);
  CHECK(m.vcpu.gpr[kEax] == 2);
  const std::vector<Seen> stale = of_kind(seen, TcEvent::Kind::kStale);
  REQUIRE(stale.size() == 1);
  CHECK(stale[0].reason == "cr3 load");
  CHECK(stale[0].addr == pd2);
  CHECK(stale[0].ccf_eips == std::vector<uint32_t>{0x3f0000});
  const std::vector<Seen> re = of_kind(seen, TcEvent::Kind::kRevalidation);
  REQUIRE(re.size() == 1);
  CHECK(re[0].addr == 0x3f0000);
  CHECK(!re[0].kept);
  CHECK(contains(re[0].text, "REVALIDATE guest 0x003f0000: code mapping changed"));
}
