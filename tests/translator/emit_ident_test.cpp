// Tests of translator/emit_ident: copied guest instructions are emitted with asmjit and read back
// with Capstone in 64-bit mode (an independent disassembler), which must see the same instruction
// with a 32-bit address size and no REX prefix.
#include <catch2/catch.hpp>

#include <capstone/capstone.h>

#include <optional>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "opcode_sweep.h"
#include "translator/emit_ident.h"

using namespace btvmm::translator;

namespace {

class Capstone64 {
 public:
  Capstone64() {
    REQUIRE(cs_open(CS_ARCH_X86, CS_MODE_64, &h_) == CS_ERR_OK);
    cs_option(h_, CS_OPT_DETAIL, CS_OPT_ON);
  }
  ~Capstone64() { cs_close(&h_); }
  Capstone64(const Capstone64&) = delete;
  Capstone64& operator=(const Capstone64&) = delete;

  struct Insn {
    std::string text;
    size_t size;
    uint8_t rex;
    uint8_t addr_prefix;
    bool addresses_are_32bit;
  };

  std::vector<Insn> disasm(const std::vector<uint8_t>& code) {
    cs_insn* insn = nullptr;
    const size_t n = cs_disasm(h_, code.data(), code.size(), 0, 0, &insn);
    std::vector<Insn> out;
    for (size_t i = 0; i < n; ++i) {
      const cs_x86& x = insn[i].detail->x86;
      bool addr32 = true;
      for (uint8_t k = 0; k < x.op_count; ++k) {
        if (x.operands[k].type != X86_OP_MEM) continue;
        for (x86_reg r : {x.operands[k].mem.base, x.operands[k].mem.index}) {
          if (r == X86_REG_INVALID) continue;
          // 32-bit registers only, and never EIP/RIP-relative (guest disp32 is absolute).
          addr32 = addr32 && cs_reg_name(h_, r)[0] == 'e' && r != X86_REG_EIP;
        }
      }
      std::string text = insn[i].mnemonic;
      if (insn[i].op_str[0]) text += std::string(" ") + insn[i].op_str;
      out.push_back({text, insn[i].size, x.rex, x.prefix[3], addr32});
    }
    cs_free(insn, n);
    return out;
  }

 private:
  csh h_{};
};

DecodedInstruction guest(std::vector<uint8_t> b, uint32_t eip = 0x1000) {
  const size_t len = b.size();
  b.resize(15, 0);
  auto r = decode(b, eip);
  REQUIRE(r.ok());
  REQUIRE(r.instruction.length() == len);
  return r.instruction;
}

struct Ccf {
  std::vector<uint8_t> code;
  std::vector<std::optional<EmittedRange>> ranges;
};

Ccf emit_all(const std::vector<std::vector<uint8_t>>& guest_code) {
  asmjit::CodeHolder holder;
  REQUIRE(holder.init(asmjit::Environment(asmjit::Arch::kX64)) == asmjit::kErrorOk);
  asmjit::x86::Assembler a(&holder);
  Ccf ccf;
  uint32_t eip = 0x1000;
  for (const auto& b : guest_code) {
    const DecodedInstruction insn = guest(b, eip);
    ccf.ranges.push_back(emit_ident(a, insn, classify(insn)));
    eip = insn.next_eip();
  }
  REQUIRE(holder.flatten() == asmjit::kErrorOk);
  ccf.code.resize(holder.codeSize());
  REQUIRE(holder.copyFlattenedData(ccf.code.data(), ccf.code.size()) == asmjit::kErrorOk);
  return ccf;
}

}  // namespace

TEST_CASE("emit_ident_copies_mov_eax_ebx_plus_4_with_addr32") {
  Ccf ccf = emit_all({{0x8b, 0x43, 0x04}});
  CHECK(ccf.code == std::vector<uint8_t>{0x67, 0x8b, 0x43, 0x04});
  Capstone64 cs;
  auto host = cs.disasm(ccf.code);
  REQUIRE(host.size() == 1);
  CHECK(host[0].text == "mov eax, dword ptr [ebx + 4]");
  CHECK(host[0].addr_prefix == 0x67);
  CHECK(host[0].rex == 0);
}

TEST_CASE("emit_ident_lays_out_a_run_of_copies_and_records_guest_eips_and_host_offsets") {
  const std::vector<std::vector<uint8_t>> code = {
      {0x8b, 0x43, 0x04},                          // mov eax, [ebx+4]
      {0x01, 0xc8},                                // add eax, ecx
      {0xa3, 0x34, 0x12, 0x00, 0x00},              // mov [0x1234], eax (moffs)
      {0x89, 0x05, 0x78, 0x56, 0x00, 0x00},        // mov [0x5678], eax (ModRM disp32)
      {0x8d, 0x54, 0x7e, 0x08},                    // lea edx, [esi+edi*2+8]
      {0x31, 0xc0},                                // xor eax, eax
  };
  Ccf ccf = emit_all(code);
  const std::vector<std::string> expected = {
      "mov eax, dword ptr [ebx + 4]", "add eax, ecx", "mov dword ptr [0x1234], eax",
      "mov dword ptr [0x5678], eax", "lea edx, [esi + edi*2 + 8]", "xor eax, eax"};
  Capstone64 cs;
  auto host = cs.disasm(ccf.code);
  REQUIRE(host.size() == code.size());
  size_t offset = 0;
  uint32_t eip = 0x1000;
  for (size_t i = 0; i < code.size(); ++i) {
    INFO("instruction " << i);
    CHECK(host[i].text == expected[i]);
    CHECK(host[i].rex == 0);
    REQUIRE(ccf.ranges[i].has_value());
    CHECK(ccf.ranges[i]->guest_eip == eip);
    CHECK(ccf.ranges[i]->host_offset == offset);
    CHECK(ccf.ranges[i]->host_size == host[i].size);
    offset += host[i].size;
    eip += code[i].size();
  }
  CHECK(offset == ccf.code.size());
}

TEST_CASE("emit_ident_copies_rep_movsd_with_32bit_esi_edi") {
  Ccf ccf = emit_all({{0xf3, 0xa5}});
  CHECK(ccf.code == std::vector<uint8_t>{0x67, 0xf3, 0xa5});
  Capstone64 cs;
  auto host = cs.disasm(ccf.code);
  REQUIRE(host.size() == 1);
  CHECK(host[0].text.find("edi") != std::string::npos);
  CHECK(host[0].text.find("esi") != std::string::npos);
  CHECK(host[0].text.find("rdi") == std::string::npos);
}

TEST_CASE("emit_ident_refuses_rex_bytes_stack_ops_and_everything_not_copied") {
  asmjit::CodeHolder holder;
  REQUIRE(holder.init(asmjit::Environment(asmjit::Arch::kX64)) == asmjit::kErrorOk);
  asmjit::x86::Assembler a(&holder);
  std::vector<std::vector<uint8_t>> refused = {{0x9c}, {0x50}, {0xc3}, {0xfa}, {0x0f, 0x22, 0xd8}, {0x64, 0x8b, 0x00}};
  for (int op = 0x40; op <= 0x4f; ++op) refused.push_back({uint8_t(op)});
  for (const auto& b : refused) {
    const DecodedInstruction insn = guest(b);
    CHECK_FALSE(emit_ident(a, insn, classify(insn)).has_value());
  }
  CHECK(a.offset() == 0);
}

TEST_CASE("every_swept_copy_reads_back_in_capstone_as_one_instruction_without_rex_and_with_32bit_addresses") {
  Capstone64 cs;
  asmjit::CodeHolder holder;
  REQUIRE(holder.init(asmjit::Environment(asmjit::Arch::kX64)) == asmjit::kErrorOk);
  asmjit::x86::Assembler a(&holder);
  std::vector<std::string> bad;
  size_t checked = 0, unknown_to_capstone = 0;
  std::set<std::vector<uint8_t>> seen;
  test::for_each_opcode_form([&](const std::vector<uint8_t>& b) {
    auto r = decode(b, 0x1000);
    if (!r.ok() || !seen.emplace(b.begin(), b.begin() + r.instruction.length()).second) return;
    const Classification c = classify(r.instruction);
    const size_t at = a.offset();
    auto range = emit_ident(a, r.instruction, c);
    if (!range) return;
    const std::vector<uint8_t> host(holder.textSection()->data() + at,
                                    holder.textSection()->data() + at + range->host_size);
    ++checked;
    auto h = cs.disasm(host);
    if (h.empty()) {
      ++unknown_to_capstone;  // Capstone 4.0.2 predates some extensions (e.g. SHA, GFNI, MOVDIR)
      return;
    }
    // kIdent may keep a guest 0x67 that has no effect (no memory operand); kIdentAddr32 must have one.
    const bool addr32_expected = c.kind == Kind::kIdentAddr32;
    if (h.size() != 1 || h[0].size != host.size() || h[0].rex != 0 || !h[0].addresses_are_32bit ||
        (addr32_expected && h[0].addr_prefix != 0x67)) {
      std::string hex;
      for (uint8_t x : host) hex += fmt::format("{:02x} ", x);
      bad.push_back(fmt::format("{}-> {} ({})", hex, h[0].text, r.instruction.text()));
    }
  });
  CHECK(checked > 10000);
  CHECK(unknown_to_capstone * 20 < checked);
  std::string text;
  for (size_t i = 0; i < bad.size() && i < 40; ++i) text += bad[i] + "\n";
  INFO(bad.size() << " bad copies, first ones:\n" << text);
  CHECK(bad.empty());
}
