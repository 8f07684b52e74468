// Tests of translator/translation_unit: each ending rule of TU formation, with guest code held in
// a fake page map whose missing pages fail to fetch (a code-fetch #PF).
#include <catch2/catch.hpp>

#include <cstring>
#include <map>
#include <vector>

#include "translator/translation_unit.h"

using namespace btvmm::translator;

namespace {

class FakeCode {
 public:
  // Places bytes at `linear`, creating (zero-filled) pages as needed.
  void put(uint32_t linear, std::vector<uint8_t> bytes) {
    for (uint8_t b : bytes) {
      page(linear)[linear % kGuestPageSize] = b;
      ++linear;
    }
  }
  void fill(uint32_t linear, size_t n, uint8_t b) { put(linear, std::vector<uint8_t>(n, b)); }
  void unmap(uint32_t linear) { pages_.erase(linear / kGuestPageSize); }

  FetchFn fetcher() {
    return [this](uint32_t linear, std::span<uint8_t> out) {
      REQUIRE(linear / kGuestPageSize == (linear + out.size() - 1) / kGuestPageSize);
      ++fetches;
      auto it = pages_.find(linear / kGuestPageSize);
      if (it == pages_.end()) return false;
      std::memcpy(out.data(), it->second.data() + linear % kGuestPageSize, out.size());
      return true;
    };
  }
  int fetches = 0;

 private:
  std::vector<uint8_t>& page(uint32_t linear) {
    auto& p = pages_[linear / kGuestPageSize];
    p.resize(kGuestPageSize, 0x90);  // nops everywhere by default
    return p;
  }
  std::map<uint32_t, std::vector<uint8_t>> pages_;
};

std::vector<uint32_t> eips(const TranslationUnit& tu) {
  std::vector<uint32_t> v;
  for (const auto& i : tu.instructions) v.push_back(i.eip());
  return v;
}

}  // namespace

TEST_CASE("tu_records_eip_length_and_kind_of_each_instruction") {
  FakeCode code;
  code.put(0x1000, {0x8b, 0x43, 0x04,        // mov eax, [ebx+4]
                    0x01, 0xc8,              // add eax, ecx
                    0x50,                    // push eax
                    0xfa,                    // cli
                    0xc3});                  // ret
  auto tu = form_translation_unit(0x1000, code.fetcher());
  REQUIRE(tu.instructions.size() == 5);
  CHECK(eips(tu) == std::vector<uint32_t>{0x1000, 0x1003, 0x1005, 0x1006, 0x1007});
  CHECK(tu.instructions[0].length() == 3);
  CHECK(tu.instructions[0].kind() == Kind::kIdentAddr32);
  CHECK(tu.instructions[1].kind() == Kind::kIdent);
  CHECK(tu.instructions[2].kind() == Kind::kReencode32);
  CHECK(tu.instructions[3].kind() == Kind::kVirtualCpu);
  CHECK(tu.instructions[4].kind() == Kind::kReturn);
  CHECK(tu.end == TuEnd::kControlFlow);
  CHECK(tu.fallthrough_eip() == 0x1008);
  CHECK_FALSE(tu.fault.has_value());
  CHECK_FALSE(tu.spans_two_pages);
}

TEST_CASE("tu_ends_after_direct_and_indirect_branches_and_returns") {
  for (std::vector<uint8_t> branch : {std::vector<uint8_t>{0xeb, 0x10}, {0x74, 0x10}, {0xe8, 0, 0, 0, 0},
                                      {0xff, 0xe0}, {0xc3}, {0xe2, 0x00}}) {
    FakeCode code;
    code.put(0x2000, {0x90, 0x90});
    code.put(0x2002, branch);
    auto tu = form_translation_unit(0x2000, code.fetcher());
    CHECK(tu.instructions.size() == 3);
    CHECK(tu.end == TuEnd::kControlFlow);
  }
}

TEST_CASE("tu_ends_after_callouts_that_change_control_mode_or_paging_but_not_after_cpuid") {
  for (std::vector<uint8_t> ender : {std::vector<uint8_t>{0x0f, 0x22, 0xc0},  // mov cr0, eax
                                     {0x0f, 0x22, 0xd8},                      // mov cr3, eax
                                     {0xcf},                                  // iret
                                     {0xcd, 0x80},                            // int 0x80
                                     {0xf4},                                  // hlt
                                     {0xea, 0, 0x10, 0, 0, 0x08, 0},          // jmp far
                                     {0x0f, 0x01, 0x38},                      // invlpg [eax]
                                     {0x66, 0x9d},                            // popf (16-bit)
                                     {0x0f, 0x0b}}) {                         // ud2
    FakeCode code;
    code.put(0x3000, ender);
    auto tu = form_translation_unit(0x3000, code.fetcher());
    CHECK(tu.instructions.size() == 1);
    CHECK(tu.end == TuEnd::kControlFlow);
    CHECK_FALSE(tu.ends_in_interrupt_shadow);
  }
  FakeCode code;
  code.put(0x3000, {0x0f, 0xa2, 0x0f, 0x31, 0xc3});  // cpuid; rdtsc; ret
  auto tu = form_translation_unit(0x3000, code.fetcher());
  CHECK(tu.instructions.size() == 3);
  CHECK(tu.instructions[0].kind() == Kind::kCallout);
}

TEST_CASE("tu_ends_after_mov_ss_and_pop_ss_in_an_interrupt_shadow") {
  for (std::vector<uint8_t> shadow : {std::vector<uint8_t>{0x8e, 0xd0}, {0x17}}) {
    FakeCode code;
    code.put(0x4000, {0x90});
    code.put(0x4001, shadow);
    auto tu = form_translation_unit(0x4000, code.fetcher());
    CHECK(tu.instructions.size() == 2);
    CHECK(tu.end == TuEnd::kControlFlow);
    CHECK(tu.ends_in_interrupt_shadow);
  }
}

TEST_CASE("tu_keeps_sti_and_popfd_with_the_instructions_after_them") {
  FakeCode code;
  code.put(0x4000, {0x90, 0xfb, 0xf4});  // nop; sti; hlt: the hlt runs in the sti shadow
  auto tu = form_translation_unit(0x4000, code.fetcher());
  CHECK(tu.instructions.size() == 3);
  CHECK(tu.end == TuEnd::kControlFlow);
  CHECK_FALSE(tu.ends_in_interrupt_shadow);
  code.put(0x4100, {0x9d, 0x90, 0xc3});  // popfd; nop; ret
  CHECK(form_translation_unit(0x4100, code.fetcher()).instructions.size() == 3);
}

TEST_CASE("tu_never_ends_with_sti_by_count_so_its_successor_stays_in_its_shadow") {
  FakeCode code;
  code.fill(0x5000, 11, 0x90);
  code.put(0x500b, {0xfb, 0x90, 0xf4});  // sti would be the 12th instruction; nop; hlt
  auto tu = form_translation_unit(0x5000, code.fetcher());
  CHECK(tu.instructions.size() == 11);
  CHECK(tu.end == TuEnd::kMaxInstructions);
  CHECK(tu.fallthrough_eip() == 0x500b);
  auto next = form_translation_unit(0x500b, code.fetcher());
  REQUIRE(next.instructions.size() == 3);
  CHECK(next.instructions[0].insn.mnemonic() == ZYDIS_MNEMONIC_STI);
}

TEST_CASE("tu_ending_with_sti_at_a_page_boundary_says_interrupt_shadow") {
  FakeCode code;
  code.put(0x5ffe, {0x90, 0xfb});  // sti is the page's last byte
  code.put(0x6000, {0x90});
  auto tu = form_translation_unit(0x5ffe, code.fetcher());
  CHECK(tu.instructions.size() == 2);
  CHECK(tu.end == TuEnd::kPageBoundary);
  CHECK(tu.ends_in_interrupt_shadow);
  code.unmap(0x6000);
  code.put(0x7ffe, {0xfb, 0x0f});  // sti, then an instruction straddling into an absent page
  auto cut = form_translation_unit(0x7ffe, code.fetcher());
  CHECK(cut.instructions.size() == 1);
  CHECK(cut.ends_in_interrupt_shadow);
}

TEST_CASE("tu_ends_after_12_instructions") {
  FakeCode code;
  code.fill(0x5000, 40, 0x90);
  auto tu = form_translation_unit(0x5000, code.fetcher());
  CHECK(tu.instructions.size() == kMaxTuInstructions);
  CHECK(tu.end == TuEnd::kMaxInstructions);
  CHECK(tu.fallthrough_eip() == 0x5000 + kMaxTuInstructions);
}

TEST_CASE("tu_never_takes_instructions_from_the_next_page") {
  FakeCode code;
  code.fill(0x6ffd, 3, 0x90);
  code.fill(0x7000, 16, 0x90);
  auto tu = form_translation_unit(0x6ffd, code.fetcher());
  CHECK(eips(tu) == std::vector<uint32_t>{0x6ffd, 0x6ffe, 0x6fff});
  CHECK(tu.end == TuEnd::kPageBoundary);
  CHECK(tu.fallthrough_eip() == 0x7000);
  CHECK_FALSE(tu.spans_two_pages);
}

TEST_CASE("tu_ends_before_a_straddling_instruction_which_then_forms_a_tu_of_its_own") {
  FakeCode code;
  code.put(0x7ffc, {0x90, 0x90, 0xb8, 0x11});  // nop; nop; mov eax, imm32 (straddles)
  code.put(0x8000, {0x22, 0x33, 0x44, 0x90});
  auto before = form_translation_unit(0x7ffc, code.fetcher());
  CHECK(eips(before) == std::vector<uint32_t>{0x7ffc, 0x7ffd});
  CHECK(before.end == TuEnd::kPageBoundary);
  CHECK_FALSE(before.spans_two_pages);

  auto alone = form_translation_unit(0x7ffe, code.fetcher());
  REQUIRE(alone.instructions.size() == 1);
  CHECK(alone.instructions[0].length() == 5);
  CHECK(alone.instructions[0].insn.visible_operands()[1].imm.value.u == 0x44332211u);
  CHECK(alone.spans_two_pages);
  CHECK(alone.end == TuEnd::kPageBoundary);
  CHECK(alone.fallthrough_eip() == 0x8003);
}

TEST_CASE("tu_whose_first_instruction_cannot_be_fetched_raises_the_page_fault") {
  FakeCode code;
  auto tu = form_translation_unit(0x9000, code.fetcher());
  CHECK(tu.instructions.empty());
  CHECK(tu.end == TuEnd::kFault);
  REQUIRE(tu.fault.has_value());
  CHECK(tu.fault->vector == GuestFault::Vector::kPageFault);
  CHECK(tu.fault->eip == 0x9000);
  CHECK(tu.fault->linear == 0x9000);
}

TEST_CASE("tu_straddling_into_an_unmapped_page_faults_on_the_second_page") {
  FakeCode code;
  code.put(0xaffe, {0xb8, 0x11});  // mov eax, imm32: three bytes missing
  auto tu = form_translation_unit(0xaffe, code.fetcher());
  CHECK(tu.instructions.empty());
  REQUIRE(tu.fault.has_value());
  CHECK(tu.fault->vector == GuestFault::Vector::kPageFault);
  CHECK(tu.fault->eip == 0xaffe);
  CHECK(tu.fault->linear == 0xb000);

  // A short instruction at the page end does not touch the next page at all.
  FakeCode one;
  one.put(0xaffe, {0x90, 0xc3});
  auto fine = form_translation_unit(0xaffe, one.fetcher());
  CHECK(fine.instructions.size() == 2);
  CHECK_FALSE(fine.fault.has_value());
}

TEST_CASE("tu_ends_before_an_invalid_instruction_and_a_tu_starting_there_raises_ud") {
  FakeCode code;
  code.put(0xc000, {0x90, 0x90, 0xf0, 0x90});  // nop; nop; lock nop (#UD)
  auto tu = form_translation_unit(0xc000, code.fetcher());
  CHECK(tu.instructions.size() == 2);
  CHECK(tu.end == TuEnd::kBeforeFault);
  CHECK_FALSE(tu.fault.has_value());

  auto ud = form_translation_unit(0xc002, code.fetcher());
  CHECK(ud.instructions.empty());
  CHECK(ud.end == TuEnd::kFault);
  REQUIRE(ud.fault.has_value());
  CHECK(ud.fault->vector == GuestFault::Vector::kInvalidOpcode);
  CHECK(ud.fault->eip == 0xc002);
}

TEST_CASE("tu_starting_at_an_instruction_longer_than_15_bytes_raises_gp") {
  FakeCode code;
  code.fill(0xd000, 15, 0x66);
  code.put(0xd00f, {0x90});
  auto tu = form_translation_unit(0xd000, code.fetcher());
  CHECK(tu.instructions.empty());
  REQUIRE(tu.fault.has_value());
  CHECK(tu.fault->vector == GuestFault::Vector::kGeneralProtection);
}

TEST_CASE("tu_ends_before_an_instruction_on_a_page_that_stops_fetching") {
  FakeCode code;
  code.fill(0xe000, 8, 0x90);
  int calls = 0;
  FetchFn flaky = [&](uint32_t linear, std::span<uint8_t> out) {
    if (++calls > 3) return false;  // e.g. the page was unmapped under us
    return code.fetcher()(linear, out);
  };
  auto tu = form_translation_unit(0xe000, flaky);
  CHECK(tu.instructions.size() == 3);
  CHECK(tu.end == TuEnd::kBeforeFault);
  CHECK_FALSE(tu.fault.has_value());
}

TEST_CASE("tu_at_the_top_of_the_address_space_wraps_to_page_zero") {
  FakeCode code;
  code.put(0xfffffffe, {0xb0});  // mov al, imm8 straddling 4 GiB
  code.put(0xffffffff, {0x42});
  code.put(0x0, {0x90});
  auto ok = form_translation_unit(0xfffffffe, code.fetcher());
  REQUIRE(ok.instructions.size() == 1);
  CHECK(ok.instructions[0].length() == 2);
  CHECK(ok.end == TuEnd::kPageBoundary);
  CHECK(ok.fallthrough_eip() == 0);

  code.put(0xffffffff, {0xb8});  // mov eax, imm32: needs page 0
  code.unmap(0);
  auto fault = form_translation_unit(0xffffffff, code.fetcher());
  REQUIRE(fault.fault.has_value());
  CHECK(fault.fault->linear == 0);
}

TEST_CASE("tu_formats_as_one_line_per_instruction_with_kind_and_end") {
  FakeCode code;
  code.put(0xc0101000, {0x8b, 0x43, 0x04, 0xfb, 0xc3});  // mov eax, [ebx+4]; sti; ret
  auto tu = form_translation_unit(0xc0101000, code.fetcher());
  CHECK(format_translation_unit(tu) ==
        "c0101000  8b 43 04              mov eax, [ebx+0x04]                 ident+addr32\n"
        "c0101003  fb                    sti                                 virtual-cpu\n"
        "c0101004  c3                    ret                                 return\n"
        "end: control-flow\n");
  code.put(0xc0102000, {0x8e, 0xd0});  // mov ss, eax
  CHECK(format_translation_unit(form_translation_unit(0xc0102000, code.fetcher())) ==
        "c0102000  8e d0                 mov ss, ax                          callout\n"
        "end: control-flow, interrupt shadow\n");
  FakeCode none;
  CHECK(format_translation_unit(form_translation_unit(0x9000, none.fetcher())) ==
        "end: fault, raises #PF at 00009000 (cr2 00009000)\n");
}

TEST_CASE("tu_continues_after_data_segment_loads_and_rdtsc_which_the_tc_may_complete") {
  FakeCode code;
  code.put(0x5000, {0x8e, 0xd8, 0x07, 0x0f, 0xa1, 0x0f, 0x31, 0xc3});  // mov ds, eax; pop es; pop fs; rdtsc; ret
  auto tu = form_translation_unit(0x5000, code.fetcher());
  REQUIRE(tu.instructions.size() == 5);
  for (unsigned i = 0; i < 4; ++i) CHECK(tu.instructions[i].kind() == Kind::kVirtualCpu);
}
