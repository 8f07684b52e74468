// Tests of translator/emit_ccf and the per-kind emitters: a TU is emitted into a real TC and its
// host code read back with Capstone in 64-bit mode (an independent disassembler), checking the
// shapes DESIGN.md 3 requires: 0x67 on guest memory operands, stack instructions re-encoded with
// 32-bit slots and fault-safe ordering, no raw 40-4F bytes, branches as patchable exits.
#include <catch2/catch.hpp>

#include <capstone/capstone.h>

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "translator/emit_ccf.h"
#include "translator/trace_dump.h"

using namespace btvmm::translator;

namespace {

struct HostInsn {
  std::string text;
  uint8_t addr_prefix;
  uint8_t rex;
  bool has_memory;
};

std::vector<HostInsn> disasm(const uint8_t* code, size_t size) {
  csh h{};
  REQUIRE(cs_open(CS_ARCH_X86, CS_MODE_64, &h) == CS_ERR_OK);
  cs_option(h, CS_OPT_DETAIL, CS_OPT_ON);
  cs_insn* insn = nullptr;
  const size_t n = cs_disasm(h, code, size, 0, 0, &insn);
  std::vector<HostInsn> out;
  for (size_t i = 0; i < n; ++i) {
    const cs_x86& x = insn[i].detail->x86;
    bool mem = false;
    for (uint8_t k = 0; k < x.op_count; ++k) mem = mem || x.operands[k].type == X86_OP_MEM;
    std::string text = insn[i].mnemonic;
    if (insn[i].op_str[0]) text += std::string(" ") + insn[i].op_str;
    out.push_back({text, x.prefix[3], x.rex, mem});
  }
  cs_free(insn, n);
  cs_close(&h);
  return out;
}

struct Emitted {
  std::unique_ptr<Ccf> ccf;
  // Host instructions of each guest instruction's range.
  std::vector<std::vector<HostInsn>> body;
  std::vector<HostInsn> all;
};

class Fixture {
 public:
  Fixture() : tc_(size_t(1) << 20) {
    layout_.exit_common = reinterpret_cast<uint64_t>(tc_.allocate_permanent(16));
    layout_.lookup = &lookup_;
  }
  Emitted emit(std::vector<uint8_t> guest, uint32_t eip = 0x1000) {
    guest.resize(64, 0x90);
    const TranslationUnit tu = form_translation_unit(eip, [&](uint32_t la, std::span<uint8_t> out) {
      if (la < eip || la + out.size() > eip + guest.size()) return false;
      std::memcpy(out.data(), guest.data() + (la - eip), out.size());
      return true;
    });
    Emitted e;
    e.ccf = emit_ccf(tu, tc_, layout_);
    REQUIRE(e.ccf);
    for (const EmittedRange& r : e.ccf->map) e.body.push_back(disasm(e.ccf->host + r.host_offset, r.host_size));
    e.all = disasm(e.ccf->host, e.ccf->host_size);
    return e;
  }

 private:
  TcMemory tc_;
  TcLookup lookup_;
  TcLayout layout_;
};

// Capstone writes numbers below 10 in decimal, the others in hex with 0x.
std::string capstone_number(size_t v) {
  if (v < 10) return std::to_string(v);
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%zx", v);
  return buf;
}

std::vector<std::string> texts(const std::vector<HostInsn>& v) {
  std::vector<std::string> t;
  for (const HostInsn& h : v) t.push_back(h.text);
  return t;
}

}  // namespace

TEST_CASE("emit_ccf_reencodes_push_reg_as_store_below_esp_then_lea") {
  Fixture f;
  Emitted e = f.emit({0x50, 0xf4});  // push eax; hlt
  REQUIRE(e.body.size() >= 1);
  CHECK(texts(e.body[0]) == std::vector<std::string>{"mov dword ptr [esp - 4], eax", "lea esp, [esp - 4]"});
  for (const HostInsn& h : e.body[0]) CHECK(h.addr_prefix == 0x67);
}

TEST_CASE("emit_ccf_pop_to_memory_loads_then_stores_then_moves_esp") {
  Fixture f;
  Emitted e = f.emit({0x8f, 0x44, 0x24, 0x08, 0xf4});  // pop dword [esp+8]; hlt
  // SDM vol. 2 POP: an ESP base is used after the increment, so the store goes to [esp + 12].
  CHECK(texts(e.body[0]) == std::vector<std::string>{"mov r12d, dword ptr [esp]", "mov dword ptr [esp + 0xc], r12d",
                                                     "lea esp, [esp + 4]"});
}

TEST_CASE("emit_ccf_never_copies_short_inc_dec_bytes_that_are_rex_in_64bit_mode") {
  Fixture f;
  Emitted e = f.emit({0x40, 0x4f, 0x66, 0x41, 0xf4});  // inc eax; dec edi; inc cx; hlt
  REQUIRE(e.body.size() >= 3);
  CHECK(texts(e.body[0]) == std::vector<std::string>{"inc eax"});
  CHECK(texts(e.body[1]) == std::vector<std::string>{"dec edi"});
  CHECK(texts(e.body[2]) == std::vector<std::string>{"inc cx"});
  for (size_t i = 0; i < 3; ++i)
    for (const HostInsn& h : e.body[i]) CHECK(h.rex == 0);
}

TEST_CASE("emit_ccf_gives_every_guest_memory_operand_a_32bit_address") {
  Fixture f;
  // mov eax,[ebx+4]; add [esi+edi*2+8],ecx; rep movsd; push dword [ebp-8]; pop ecx; hlt
  Emitted e = f.emit({0x8b, 0x43, 0x04, 0x01, 0x4c, 0x7e, 0x08, 0xf3, 0xa5, 0xff, 0x75, 0xf8, 0x59, 0xf4});
  REQUIRE(e.body.size() >= 5);
  for (size_t i = 0; i < 5; ++i)
    for (const HostInsn& h : e.body[i])
      if (h.has_memory) CHECK(h.addr_prefix == 0x67);
}

TEST_CASE("emit_ccf_adds_the_fs_base_from_the_vcpu_with_flag_free_lea") {
  Fixture f;
  Emitted e = f.emit({0x64, 0xa1, 0x10, 0x00, 0x00, 0x00, 0xf4});  // mov eax, fs:[0x10]; hlt
  const auto t = texts(e.body[0]);
  REQUIRE(t.size() == 4);
  CHECK(t[0] == "mov r13d, 0x10");
  CHECK(t[1].rfind("mov r14d, dword ptr [r15 + ", 0) == 0);
  CHECK(t[2] == "lea r13d, [r13 + r14]");
  CHECK(t[3] == "mov eax, dword ptr [r13d]");
}

TEST_CASE("emit_ccf_ends_a_conditional_branch_with_a_patchable_jcc_to_the_target_then_a_patchable_jmp") {
  Fixture f;
  Emitted e = f.emit({0x85, 0xc0, 0x74, 0x10});  // test eax, eax; jz +0x10
  REQUIRE(e.ccf->slots.size() == 2);
  // The guest's jz itself is the chaining slot of the taken edge (0F 84 rel32), so a taken branch
  // is one host jump once chained; the fall-through is a jmp rel32.
  CHECK(e.ccf->slots[0].target_eip == 0x1014);
  CHECK(e.ccf->host[e.ccf->slots[0].jmp_offset] == 0x0F);
  CHECK(e.ccf->host[e.ccf->slots[0].jmp_offset + 1] == 0x84);
  CHECK(e.ccf->slots[1].target_eip == 0x1004);
  CHECK(e.ccf->host[e.ccf->slots[1].jmp_offset] == 0xE9);
  const auto t = texts(e.body[1]);
  REQUIRE(t.size() == 2);
  CHECK(t[0].rfind("je ", 0) == 0);
  CHECK(t[1].rfind("jmp ", 0) == 0);
}

TEST_CASE("emit_ccf_enters_after_the_attention_exit_and_branches_back_to_it_only_when_attention_is_set") {
  Fixture f;
  Emitted e = f.emit({0x90, 0xf4});  // nop; hlt
  const Ccf& c = *e.ccf;
  REQUIRE(c.entry_offset > 0);
  REQUIRE(c.body_offset > c.entry_offset);
  // Before the entry: the exit taken when attention is set. After it: load, decrement, a jrcxz
  // whose target lies before the entry (a backward branch, predicted and found not taken).
  const auto head = texts(disasm(c.host, c.entry_offset));
  REQUIRE(head.size() == 2);
  CHECK(head[0] == "mov rcx, r12");
  CHECK(head[1].rfind("jmp ", 0) == 0);
  const auto check = texts(disasm(c.entry(), c.body_offset - c.entry_offset));
  REQUIRE(check.size() == 5);
  CHECK(check[1] == "mov ecx, dword ptr [r15 + " + capstone_number(offsetof(btvmm::runtime::VcpuState, attention)) + "]");
  CHECK(check[2] == "lea ecx, [rcx - 1]");
  CHECK(check[3].rfind("jrcxz", 0) == 0);
  CHECK(check[4] == "mov rcx, r12");
}

TEST_CASE("emit_ccf_makes_callouts_exits_to_the_monitor_and_ends_the_ccf_there") {
  Fixture f;
  Emitted e = f.emit({0x31, 0xc0, 0x0f, 0x22, 0xd8, 0x31, 0xdb});  // xor eax,eax; mov cr3,eax; xor ebx,ebx
  REQUIRE(e.ccf->map.size() == 2);
  CHECK(e.ccf->slots.empty());
  CHECK(texts(e.body[1]).size() == 1);
  CHECK(texts(e.body[1])[0].rfind("jmp ", 0) == 0);
}

TEST_CASE("emit_ccf_maps_host_addresses_back_to_guest_eips") {
  Fixture f;
  Emitted e = f.emit({0x50, 0x8b, 0x03, 0xf4}, 0x5000);  // push eax; mov eax,[ebx]; hlt
  const Ccf& c = *e.ccf;
  REQUIRE(c.map.size() == 3);
  CHECK(c.guest_eip_at(reinterpret_cast<uint64_t>(c.host) + c.map[0].host_offset + 1) == 0x5000u);
  CHECK(c.guest_eip_at(reinterpret_cast<uint64_t>(c.host) + c.map[1].host_offset) == 0x5001u);
  CHECK(!c.guest_eip_at(reinterpret_cast<uint64_t>(c.host)).has_value());  // the attention check
}

TEST_CASE("trace_dump_names_guest_instructions_and_the_host_code_of_each") {
  Fixture f;
  const std::vector<uint8_t> guest = {0x50, 0x8b, 0x03, 0xf4};  // push eax; mov eax,[ebx]; hlt
  Emitted e = f.emit(guest, 0x5000);
  std::vector<uint8_t> padded = guest;
  padded.resize(64, 0x90);
  const TranslationUnit tu = form_translation_unit(0x5000, [&](uint32_t la, std::span<uint8_t> out) {
    std::memcpy(out.data(), padded.data() + (la - 0x5000), out.size());
    return true;
  });
  const std::string dump = format_ccf(tu, *e.ccf, true, true);
  CHECK(dump.find("IN: 0x00005000") != std::string::npos);
  CHECK(dump.find("-- guest 0x00005000  push eax  (reencode32)") != std::string::npos);
  CHECK(dump.find("-- guest 0x00005001  mov eax, [ebx]  (ident+addr32)") != std::string::npos);
  CHECK(dump.find("lea esp, [esp - 4]") != std::string::npos);  // Capstone's spelling
  CHECK(dump.find("-- attention check") != std::string::npos);
  CHECK(dump.find("-- run counter") != std::string::npos);
  CHECK(dump.find("-- exits") != std::string::npos);
  CHECK(format_ccf(tu, *e.ccf, true, false).find("OUT:") == std::string::npos);
}

TEST_CASE("emit_ccf_checks_attention_after_the_instruction_in_the_sti_shadow_only") {
  Fixture f;
  Emitted e = f.emit({0xfb, 0x90, 0x90, 0xf4});  // sti; nop; nop; hlt
  REQUIRE(e.ccf->map.size() == 4);
  const auto& m = e.ccf->map;
  // Host code between the nop in the shadow and the next nop: an attention check (reads
  // vcpu.attention through r15 and branches with jrcxz, which writes no flags).
  const size_t gap_start = m[1].host_offset + m[1].host_size;
  REQUIRE(m[2].host_offset > gap_start);
  const auto gap = texts(disasm(e.ccf->host + gap_start, m[2].host_offset - gap_start));
  CHECK(std::find(gap.begin(), gap.end(), "mov ecx, dword ptr [r15 + " + capstone_number(offsetof(btvmm::runtime::VcpuState, attention)) + "]") != gap.end());
  CHECK(std::count_if(gap.begin(), gap.end(), [](const std::string& t) { return t.rfind("jrcxz", 0) == 0; }) == 1);
  CHECK(m[0].host_offset + m[0].host_size == m[1].host_offset);  // nothing between sti and the nop
  CHECK(m[2].host_offset + m[2].host_size == m[3].host_offset);  // nor after the second nop
}

TEST_CASE("emit_ccf_sti_last_on_its_page_exits_with_the_interrupt_shadow_set") {
  Fixture f;
  Emitted e = f.emit({0xfb}, 0x1fff);  // sti is the page's last byte
  REQUIRE(e.ccf->map.size() == 1);
  const auto t = texts(e.body[0]);
  CHECK(std::find(t.begin(), t.end(), "mov byte ptr [r15 + " + capstone_number(offsetof(btvmm::runtime::VcpuState, interrupt_shadow)) + "], 1") != t.end());
  CHECK(t.back().rfind("jmp ", 0) == 0);
  CHECK(e.ccf->slots.empty());
}

TEST_CASE("emit_ccf_counts_runs_flag_free_between_the_attention_check_and_the_body") {
  Fixture f;
  Emitted e = f.emit({0x90, 0xf4});  // nop; hlt
  const Ccf& c = *e.ccf;
  const auto counter = texts(disasm(c.host + c.body_offset, c.map[0].host_offset - c.body_offset));
  REQUIRE(counter.size() == 4);
  CHECK(counter[0].rfind("movabs r12, ", 0) == 0);
  CHECK(counter[2] == "lea r13, [r13 + 1]");
  CHECK(c.profile.instructions(ExecKind::kIdent) == 1);
  CHECK(c.profile.instructions(ExecKind::kMonitor) == 1);
}
