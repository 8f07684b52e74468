// Tests of translator/decode: 32-bit decoding, operands, prefixes, branch targets, failures.
#include <catch2/catch.hpp>

#include <vector>

#include "core/stats.h"
#include "translator/decode.h"

using namespace btvmm::translator;

namespace {

DecodeResult dec(std::vector<uint8_t> b, uint32_t eip = 0x1000) { return decode(b, eip); }

uint64_t counter(const char* name) {
  for (const auto& s : btvmm::stats::snapshot()) {
    if (s.name == name) return s.value;
  }
  FAIL("no counter " << name);
  return 0;
}

}  // namespace

TEST_CASE("decode_reports_length_mnemonic_and_memory_operand_of_mov_eax_ebx_plus_4") {
  auto r = dec({0x8b, 0x43, 0x04, 0x90});
  REQUIRE(r.ok());
  const auto& i = r.instruction;
  CHECK(i.length() == 3);
  CHECK(i.mnemonic() == ZYDIS_MNEMONIC_MOV);
  CHECK(i.eip() == 0x1000);
  CHECK(i.next_eip() == 0x1003);
  CHECK(std::vector<uint8_t>(i.bytes().begin(), i.bytes().end()) == std::vector<uint8_t>{0x8b, 0x43, 0x04});
  REQUIRE(i.visible_operands().size() == 2);
  CHECK(i.visible_operands()[0].type == ZYDIS_OPERAND_TYPE_REGISTER);
  CHECK(i.visible_operands()[0].reg.value == ZYDIS_REGISTER_EAX);
  const auto& m = i.visible_operands()[1];
  REQUIRE(m.type == ZYDIS_OPERAND_TYPE_MEMORY);
  CHECK(m.mem.base == ZYDIS_REGISTER_EBX);
  CHECK(m.mem.index == ZYDIS_REGISTER_NONE);
  CHECK(m.mem.disp.value == 4);
  CHECK(m.mem.segment == ZYDIS_REGISTER_DS);
  CHECK(m.size == 32);
  CHECK(i.has_memory_operand());
  CHECK(i.address_width() == 32);
  CHECK(i.operand_width() == 32);
  CHECK(i.text() == "mov eax, [ebx+0x04]");
}

TEST_CASE("decode_uses_32bit_stack_width_for_push") {
  auto r = dec({0x50});
  REQUIRE(r.ok());
  CHECK(r.instruction.zydis().stack_width == 32);
  CHECK(r.instruction.operand_width() == 32);
}

TEST_CASE("decode_reports_prefixes_segment_operand_size_address_size_rep_lock") {
  auto fs = dec({0x64, 0x8b, 0x00});
  REQUIRE(fs.ok());
  CHECK(fs.instruction.segment_override() == ZYDIS_REGISTER_FS);
  CHECK(fs.instruction.visible_operands()[1].mem.segment == ZYDIS_REGISTER_FS);

  auto none = dec({0x8b, 0x00});
  REQUIRE(none.ok());
  CHECK(none.instruction.segment_override() == ZYDIS_REGISTER_NONE);

  auto last_wins = dec({0x64, 0x65, 0x8b, 0x00});
  REQUIRE(last_wins.ok());
  CHECK(last_wins.instruction.segment_override() == ZYDIS_REGISTER_GS);

  auto o16 = dec({0x66, 0x89, 0xc8});
  REQUIRE(o16.ok());
  CHECK(o16.instruction.has_operand_size_override());
  CHECK(o16.instruction.operand_width() == 16);

  auto a16 = dec({0x67, 0x8b, 0x07});
  REQUIRE(a16.ok());
  CHECK(a16.instruction.has_address_size_override());
  CHECK(a16.instruction.address_width() == 16);
  CHECK(a16.instruction.visible_operands()[1].mem.base == ZYDIS_REGISTER_BX);

  auto rep = dec({0xf3, 0xa5});
  REQUIRE(rep.ok());
  CHECK(rep.instruction.mnemonic() == ZYDIS_MNEMONIC_MOVSD);
  CHECK(rep.instruction.has_rep());
  CHECK_FALSE(rep.instruction.has_repne());

  auto repne = dec({0xf2, 0xae});
  REQUIRE(repne.ok());
  CHECK(repne.instruction.has_repne());

  auto lock = dec({0xf0, 0x01, 0x03});
  REQUIRE(lock.ok());
  CHECK(lock.instruction.has_lock());
  CHECK(lock.instruction.length() == 3);
}

TEST_CASE("decode_computes_relative_branch_targets_with_32bit_wrap_and_16bit_truncation") {
  auto self = dec({0xeb, 0xfe}, 0x1000);
  REQUIRE(self.ok());
  CHECK(self.instruction.branch_target() == 0x1000u);

  auto call = dec({0xe8, 0x10, 0x00, 0x00, 0x00}, 0x1000);
  REQUIRE(call.ok());
  CHECK(call.instruction.branch_target() == 0x1015u);

  auto jz_back = dec({0x0f, 0x84, 0x00, 0xff, 0xff, 0xff}, 0x2000);
  REQUIRE(jz_back.ok());
  CHECK(jz_back.instruction.mnemonic() == ZYDIS_MNEMONIC_JZ);
  CHECK(jz_back.instruction.branch_target() == 0x2006u - 0x100u);

  auto wrap = dec({0xe9, 0x20, 0x00, 0x00, 0x00}, 0xfffffff0u);
  REQUIRE(wrap.ok());
  CHECK(wrap.instruction.branch_target() == 0x15u);

  auto jmp16 = dec({0x66, 0xe9, 0x00, 0x10}, 0x12345678u);
  REQUIRE(jmp16.ok());
  CHECK(jmp16.instruction.branch_target() == ((0x12345678u + 4 + 0x1000) & 0xffff));

  auto loop = dec({0xe2, 0xfe}, 0x3000);
  REQUIRE(loop.ok());
  CHECK(loop.instruction.branch_target() == 0x3000u);

  auto indirect = dec({0xff, 0xe0});
  REQUIRE(indirect.ok());
  CHECK_FALSE(indirect.instruction.branch_target().has_value());
}

TEST_CASE("decode_tells_truncated_bytes_from_invalid_instructions") {
  CHECK(dec({}).status == DecodeStatus::kNeedMoreBytes);
  CHECK(dec({0x8b}).status == DecodeStatus::kNeedMoreBytes);
  CHECK(dec({0x0f}).status == DecodeStatus::kNeedMoreBytes);
  CHECK(dec({0xe8, 0x00, 0x00}).status == DecodeStatus::kNeedMoreBytes);
  CHECK(dec({0x66, 0x66, 0x66}).status == DecodeStatus::kNeedMoreBytes);

  CHECK(dec({0xf0, 0x90}).status == DecodeStatus::kInvalid);        // lock on nop
  CHECK(dec({0x8e, 0xc8}).status == DecodeStatus::kInvalid);        // mov cs, eax (SDM: #UD)
  CHECK(dec({0x8d, 0xc0}).status == DecodeStatus::kInvalid);        // lea with a register source
  CHECK(dec({0x0f, 0x04, 0x00}).status == DecodeStatus::kInvalid);  // reserved opcode
}

TEST_CASE("decode_rejects_instructions_longer_than_15_bytes") {
  std::vector<uint8_t> fifteen(14, 0x66);
  fifteen.push_back(0x90);
  auto ok = dec(fifteen);
  REQUIRE(ok.ok());
  CHECK(ok.instruction.length() == 15);

  std::vector<uint8_t> sixteen(15, 0x66);
  sixteen.push_back(0x90);
  CHECK(dec(sixteen).status == DecodeStatus::kTooLong);
  // Only 15 bytes of prefixes in hand: already too long, not "needs more bytes".
  CHECK(dec(std::vector<uint8_t>(15, 0x66)).status == DecodeStatus::kTooLong);
}

TEST_CASE("decode_counts_decoded_instructions_and_failures_but_not_short_buffers") {
  const uint64_t decoded = counter("translator.decoded");
  const uint64_t failures = counter("translator.decode_failures");
  REQUIRE(dec({0x90}).ok());
  CHECK(dec({0xf0, 0x90}).status == DecodeStatus::kInvalid);
  CHECK(dec({0x8b}).status == DecodeStatus::kNeedMoreBytes);
  CHECK(counter("translator.decoded") == decoded + 1);
  CHECK(counter("translator.decode_failures") == failures + 1);
}

TEST_CASE("decode_host64_reads_bytes_as_64bit_code") {
  auto r = decode_host64(std::vector<uint8_t>{0x48, 0x8b, 0x03}, 0);
  REQUIRE(r.ok());
  CHECK(r.instruction.mnemonic() == ZYDIS_MNEMONIC_MOV);
  CHECK(r.instruction.visible_operands()[0].reg.value == ZYDIS_REGISTER_RAX);
  // The same first byte is "dec eax" for the guest.
  auto g = dec({0x48, 0x8b, 0x03});
  REQUIRE(g.ok());
  CHECK(g.instruction.mnemonic() == ZYDIS_MNEMONIC_DEC);
  CHECK(g.instruction.length() == 1);
}
