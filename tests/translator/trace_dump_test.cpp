// Tests of translator/trace_dump beyond the plain CCF dump: the text of each TC event kind, the
// heading of a store retranslated as SIMULATE, and the counters emit_ccf gives to exit stubs that
// end a run early (exec_profile.h), read back with Capstone.
#include <catch2/catch.hpp>

#include <capstone/capstone.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <unordered_set>
#include <vector>

#include "translator/emit_ccf.h"
#include "translator/tc.h"
#include "translator/trace_dump.h"

using namespace btvmm::translator;

namespace {

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

class Fixture {
 public:
  Fixture() : tc_(size_t(1) << 20) {
    layout_.exit_common = reinterpret_cast<uint64_t>(tc_.allocate_permanent(16));
    layout_.lookup = &lookup_;
    layout_.simulate = &simulate;
  }
  std::unique_ptr<Ccf> emit(std::vector<uint8_t> guest, uint32_t eip = 0x1000) {
    guest.resize(64, 0x90);
    tu = form_translation_unit(eip, [&](uint32_t la, std::span<uint8_t> out) {
      if (la < eip || la + out.size() > eip + guest.size()) return false;
      std::memcpy(out.data(), guest.data() + (la - eip), out.size());
      return true;
    });
    std::unique_ptr<Ccf> c = emit_ccf(tu, tc_, layout_);
    REQUIRE(c);
    return c;
  }
  std::unordered_set<uint32_t> simulate;
  TranslationUnit tu;

 private:
  TcMemory tc_;
  TcLookup lookup_;
  TcLayout layout_;
};

// Capstone text of every host instruction from `from` to the end of the CCF.
std::vector<std::string> host_text(const Ccf& c, size_t from) {
  csh h = 0;
  REQUIRE(cs_open(CS_ARCH_X86, CS_MODE_64, &h) == CS_ERR_OK);
  cs_insn* insn = nullptr;
  const size_t n = cs_disasm(h, c.host + from, c.host_size - from, reinterpret_cast<uint64_t>(c.host) + from, 0, &insn);
  std::vector<std::string> v;
  for (size_t i = 0; i < n; ++i) v.push_back(std::string(insn[i].mnemonic) + " " + insn[i].op_str);
  cs_free(insn, n);
  cs_close(&h);
  return v;
}

size_t increments(const std::vector<std::string>& text) {
  return static_cast<size_t>(std::count(text.begin(), text.end(), "lea r13, [r13 + 1]"));
}

}  // namespace

TEST_CASE("tc_event_texts_name_the_kind_the_guest_address_and_each_ccf") {
  Ccf a, b;
  a.key = {0xc0101000, 0};
  b.key = {0x08048000, 3};
  b.valid = false;
  const Ccf* both[2] = {&a, &b};

  TcEvent r;
  r.kind = TcEvent::Kind::kRetranslation;
  r.addr = 0xc0101234;
  r.traps = 8;
  r.ccfs = {both, 1};
  CHECK(has(format_tc_event(r), "RETRANSLATE guest 0xc0101234: 8 traced-write traps"));
  CHECK(has(format_tc_event(r), "\n  ccf 0xc0101000 cpl 0 (host "));

  TcEvent i;
  i.kind = TcEvent::Kind::kInvalidation;
  i.page = 0x1b8;
  i.ccfs = both;
  const std::string inv = format_tc_event(i);
  CHECK(has(inv, "INVALIDATE guest-physical page 0x001b8000: code written, 2 CCF(s) invalidated\n"));
  CHECK(has(inv, "  ccf 0x08048000 cpl 3 (host "));
  CHECK(has(inv, ", invalidated)\n"));

  TcEvent s;
  s.kind = TcEvent::Kind::kStale;
  s.reason = "cr3 load";
  s.addr = 0x154000;
  s.ccfs = both;
  CHECK(format_tc_event(s).rfind("STALE cr3 load 0x00154000: 2 CCF(s)", 0) == 0);

  TcEvent v;
  v.kind = TcEvent::Kind::kRevalidation;
  v.addr = 0x08048000;
  v.kept = false;
  CHECK(format_tc_event(v) == "REVALIDATE guest 0x08048000: code mapping changed, CCF invalidated, retranslating\n");

  TcEvent f;
  f.kind = TcEvent::Kind::kFlush;
  f.reason = "TC full";
  f.addr = 0xc0105000;
  f.count = 4021;
  f.bytes = 67108000;
  f.total = 67108864;
  CHECK(format_tc_event(f) ==
        "FLUSH (TC full) at guest 0xc0105000: 4021 CCF(s) dropped, 67108000 of 67108864 TC bytes were in use\n");
}

TEST_CASE("tc_event_text_lists_32_ccfs_then_how_many_more") {
  std::vector<Ccf> many(40);
  std::vector<const Ccf*> refs;
  for (Ccf& c : many) refs.push_back(&c);
  TcEvent s;
  s.kind = TcEvent::Kind::kStale;
  s.reason = "cr0 load";
  s.ccfs = refs;
  const std::string text = format_tc_event(s);
  CHECK(std::count(text.begin(), text.end(), '\n') == 1 + 32 + 1);
  CHECK(has(text, "  ... and 8 more\n"));
}

TEST_CASE("trace_dump_heads_a_store_retranslated_as_simulate_and_says_where_the_ccf_ends") {
  Fixture f;
  f.simulate.insert(0x1002);
  // mov eax, ebx; mov [ecx], eax (SIMULATE); nop; hlt
  const std::unique_ptr<Ccf> c = f.emit({0x89, 0xd8, 0x89, 0x01, 0x90, 0xf4});
  REQUIRE(c->map.size() == 2);
  const std::string dump = format_ccf(f.tu, *c, true, true);
  CHECK(has(dump, "-- guest 0x00001002  mov [ecx], eax  (ident+addr32, retranslated: simulate)"));
  CHECK(has(dump, "(the CCF holds the first 2 of these; the next CCF starts at 0x00001004)"));
  CHECK(!has(dump, "-- guest 0x00001000  mov eax, ebx  (ident, "));
}

TEST_CASE("emit_ccf_counts_early_exits_in_their_stubs_and_not_a_ccfs_own_callout") {
  Fixture f;
  // popfd (its slow path is a monitor exit at the popfd, and IF rising with an interrupt waiting
  // leaves before the nop),
  // nop, hlt (the CCF's own callout exit).
  const std::unique_ptr<Ccf> c = f.emit({0x9d, 0x90, 0xf4});
  REQUIRE(c->map.size() == 3);
  const size_t exits = c->map.back().host_offset + c->map.back().host_size;
  // The run counter, then one increment in each of the two early-exit stubs.
  CHECK(increments(host_text(*c, c->body_offset)) == 3);
  CHECK(increments(host_text(*c, exits)) == 2);

  const std::unique_ptr<Ccf> plain = f.emit({0x90, 0xf4});  // nop; hlt: no early exit
  CHECK(increments(host_text(*plain, plain->map.back().host_offset)) == 0);
}
