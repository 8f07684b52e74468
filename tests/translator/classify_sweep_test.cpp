// Opcode sweeps over the classification table: every decodable 1-byte, 0F xx, 0F 38 xx, 0F 3A xx
// (with prefixes), VEX, EVEX and 3DNow! form must be decided by exactly one rule; nothing Zydis
// calls privileged may be copied; and every copied instruction must mean the same as 64-bit host
// code (the check that catches REX bytes, RIP-relative ModRM and 64-bit default operand sizes).
// Run `translator_tests "[print]"` to print the table and the swept mnemonics by kind.
#include <catch2/catch.hpp>

#include <iostream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "opcode_sweep.h"
#include "translator/classify.h"
#include "translator/ident_bytes.h"

using namespace btvmm::translator;

namespace {

// Distinct decodable instructions of the sweep (bytes trimmed to the instruction length).
const std::vector<std::vector<uint8_t>>& swept() {
  static const std::vector<std::vector<uint8_t>> all = [] {
    std::set<std::vector<uint8_t>> seen;
    test::for_each_opcode_form([&](const std::vector<uint8_t>& b) {
      auto r = decode(b, 0x10000);
      if (r.ok()) seen.emplace(b.begin(), b.begin() + r.instruction.length());
    });
    return std::vector<std::vector<uint8_t>>(seen.begin(), seen.end());
  }();
  return all;
}

std::string hex(std::span<const uint8_t> b) {
  std::string s;
  for (uint8_t x : b) s += fmt::format("{:02x} ", x);
  return s;
}

std::string describe(const DecodedInstruction& i) {
  return fmt::format("{}({}) {}", hex(i.bytes()), ZydisISASetGetString(i.zydis().meta.isa_set), i.text());
}

// Registers whose 64-bit name differs only because the mode widened them (EFLAGS/RFLAGS, EIP/RIP).
bool mode_register(ZydisRegister r) {
  const auto c = ZydisRegisterGetClass(r);
  return c == ZYDIS_REGCLASS_FLAGS || c == ZYDIS_REGCLASS_IP;
}

// Empty if `host` (64-bit) does the same as `guest` (32-bit); else what differs.
std::string difference(const DecodedInstruction& guest, const DecodedInstruction& host) {
  if (guest.mnemonic() != host.mnemonic()) return "mnemonic";
  if (guest.operand_width() != host.operand_width()) return "operand width";
  if (host.address_width() != 32 && guest.has_memory_operand()) return "address width";
  std::vector<ZydisDecodedOperand> g, h;
  for (const auto& op : guest.operands()) {
    if (op.type != ZYDIS_OPERAND_TYPE_REGISTER || !mode_register(op.reg.value)) g.push_back(op);
  }
  for (const auto& op : host.operands()) {
    if (op.type != ZYDIS_OPERAND_TYPE_REGISTER || !mode_register(op.reg.value)) h.push_back(op);
  }
  if (g.size() != h.size()) return "operand count";
  for (size_t i = 0; i < g.size(); ++i) {
    const auto& a = g[i];
    const auto& b = h[i];
    if (a.type != b.type || a.size != b.size) return fmt::format("operand {} type/size", i);
    switch (a.type) {
      case ZYDIS_OPERAND_TYPE_REGISTER:
        if (a.reg.value != b.reg.value) return fmt::format("operand {} register", i);
        break;
      case ZYDIS_OPERAND_TYPE_MEMORY:
        if (a.mem.base != b.mem.base || a.mem.index != b.mem.index || a.mem.scale != b.mem.scale ||
            uint32_t(a.mem.disp.value) != uint32_t(b.mem.disp.value)) {
          return fmt::format("operand {} address", i);
        }
        break;
      case ZYDIS_OPERAND_TYPE_IMMEDIATE:
        if (a.imm.value.u != b.imm.value.u) return fmt::format("operand {} immediate", i);
        break;
      default: break;
    }
  }
  return {};
}

void report(const std::vector<std::string>& bad) {
  std::string text;
  for (size_t i = 0; i < bad.size() && i < 40; ++i) text += bad[i] + "\n";
  INFO(bad.size() << " offending instructions, first ones:\n" << text);
  CHECK(bad.empty());
}

}  // namespace

TEST_CASE("sweep_finds_thousands_of_distinct_instructions") {
  // Guards the sweeps below against silently testing nothing.
  CHECK(swept().size() > 20000);
}

TEST_CASE("every_swept_instruction_is_decided_by_exactly_one_rule") {
  std::vector<std::string> bad;
  for (const auto& b : swept()) {
    auto r = decode(b, 0x10000);
    REQUIRE(r.ok());
    const auto m = matching_rules(r.instruction);
    if (m.size() != 1) bad.push_back(fmt::format("{} rules: {}", m.size(), describe(r.instruction)));
  }
  report(bad);
}

TEST_CASE("zydis_privileged_instructions_are_never_copied_reencoded_or_branched") {
  std::vector<std::string> bad;
  size_t privileged = 0;
  for (const auto& b : swept()) {
    auto r = decode(b, 0x10000);
    if (!r.instruction.is_privileged()) continue;
    ++privileged;
    const Kind k = classify(r.instruction).kind;
    if (k != Kind::kCallout && k != Kind::kVirtualCpu && k != Kind::kUnsupported) {
      bad.push_back(fmt::format("{}: {}", to_string(k), describe(r.instruction)));
    }
  }
  CHECK(privileged > 30);
  report(bad);
}

TEST_CASE("copied_instructions_mean_the_same_as_64bit_host_code") {
  std::vector<std::string> bad;
  size_t copied = 0;
  for (const auto& b : swept()) {
    auto r = decode(b, 0x10000);
    const Kind k = classify(r.instruction).kind;
    if (k != Kind::kIdent && k != Kind::kIdentAddr32) continue;
    ++copied;
    const HostBytes hb = ident_host_bytes(r.instruction);
    if (hb.size > kMaxInstructionLength || hb.size != r.instruction.length() + ident_growth(r.instruction) ||
        (k == Kind::kIdentAddr32) != (ident_growth(r.instruction) > 0)) {
      bad.push_back(fmt::format("host bytes {}: {}", hex(hb.bytes()), describe(r.instruction)));
      continue;
    }
    auto h = decode_host64(hb.bytes(), 0x7f0000000000);
    if (!h.ok() || h.instruction.length() != hb.size) {
      bad.push_back(fmt::format("not one 64-bit instruction: {}", describe(r.instruction)));
      continue;
    }
    if (auto d = difference(r.instruction, h.instruction); !d.empty()) {
      bad.push_back(fmt::format("{} differs (host {}): {}", d, h.instruction.text(), describe(r.instruction)));
    }
  }
  CHECK(copied > 10000);
  report(bad);
}

TEST_CASE("table_names_each_isa_set_and_encoding_once_and_gives_every_rule_a_reason") {
  std::set<int> isa_sets, encodings;
  for (const Rule& r : rules()) {
    INFO(format_rules());
    CHECK(std::string(r.reason).size() > 5);
    CHECK(r.kind != Kind::kIdentAddr32);  // the table says "copy"; classify() decides the prefix
    if (r.match == Match::kIsaSet) CHECK(isa_sets.insert(r.isa_set).second);
    if (r.match == Match::kEncoding) CHECK(encodings.insert(r.encoding).second);
  }
  // The base IA-32 sets must stay mnemonic by mnemonic: no blanket rule may copy them.
  for (ZydisISASet base : {ZYDIS_ISA_SET_I86, ZYDIS_ISA_SET_I186, ZYDIS_ISA_SET_I286PROTECTED,
                           ZYDIS_ISA_SET_I286REAL, ZYDIS_ISA_SET_I386, ZYDIS_ISA_SET_I486,
                           ZYDIS_ISA_SET_I486REAL, ZYDIS_ISA_SET_PENTIUMREAL, ZYDIS_ISA_SET_PPRO}) {
    CHECK(isa_sets.count(base) == 0);
  }
}

TEST_CASE("classification_table_print", "[.][print]") {
  std::cout << "# classification table (translator/classify_table.cpp)\n" << format_rules();
  std::map<std::string, std::set<std::string>> by_kind;
  for (const auto& b : swept()) {
    auto r = decode(b, 0x10000);
    const Classification c = classify(r.instruction);
    by_kind[to_string(c.kind)].insert(ZydisMnemonicGetString(r.instruction.mnemonic()));
  }
  std::cout << "\n# swept mnemonics by kind (" << swept().size() << " distinct instructions)\n";
  for (const auto& [kind, names] : by_kind) {
    std::cout << kind << " (" << names.size() << "):";
    for (const auto& n : names) std::cout << ' ' << n;
    std::cout << "\n";
  }
}

TEST_CASE("every_mnemonic_rule_decides_some_swept_instruction") {
  // A mnemonic rule no encoding reaches is a typo or a wrong Form. (ISA-set and encoding rules may
  // name sets the sweep does not reach: they are decisions about what would come, not dead code.)
  std::set<const Rule*> used;
  for (const auto& b : swept()) {
    auto r = decode(b, 0x10000);
    if (const Rule* rule = classify(r.instruction).rule) used.insert(rule);
  }
  std::string unused;
  for (const Rule& r : rules()) {
    if (r.match == Match::kMnemonic && !used.count(&r)) {
      unused += fmt::format("{} [{}]\n", ZydisMnemonicGetString(r.mnemonic), to_string(r.form));
    }
  }
  INFO("mnemonic rules no swept instruction reaches:\n" << unused);
  CHECK(unused.empty());
}
