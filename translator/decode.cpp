// Decoding of guest code with Zydis 4.0 (see decode.h). Keeps Zydis's status codes inside this
// file: callers only see DecodeStatus. Never reads beyond the span it is given.
#include "translator/decode.h"

#include <algorithm>
#include <cstring>

#include "core/stats.h"

namespace btvmm::translator {
namespace {

stats::Counter c_decoded{"translator.decoded", "guest instructions decoded"};
stats::Counter c_decode_failures{"translator.decode_failures",
                                 "guest byte sequences that are not an instruction (#UD) or exceed 15 bytes (#GP)"};

ZydisDecoder make_decoder(ZydisMachineMode mode, ZydisStackWidth width) {
  ZydisDecoder d;
  ZydisDecoderInit(&d, mode, width);
  // btvmm never advertises MPX (the guest CPUID stays small, CONVENTIONS.md): on such a CPU
  // 0F 1A/0F 1B are hint NOPs (SDM vol. 2 NOP; vol. 1 17.5), which is also what the host does.
  ZydisDecoderEnableMode(&d, ZYDIS_DECODER_MODE_MPX, ZYAN_FALSE);
  return d;
}

const ZydisDecoder& guest_decoder() {
  static const ZydisDecoder d = make_decoder(ZYDIS_MACHINE_MODE_LEGACY_32, ZYDIS_STACK_WIDTH_32);
  return d;
}

const ZydisDecoder& host_decoder() {
  static const ZydisDecoder d = make_decoder(ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  return d;
}

DecodeStatus status_of(ZyanStatus s) {
  if (ZYAN_SUCCESS(s)) return DecodeStatus::kOk;
  if (s == ZYDIS_STATUS_NO_MORE_DATA) return DecodeStatus::kNeedMoreBytes;
  if (s == ZYDIS_STATUS_INSTRUCTION_TOO_LONG) return DecodeStatus::kTooLong;
  return DecodeStatus::kInvalid;
}

DecodeResult decode_with(const ZydisDecoder& decoder, std::span<const uint8_t> code, uint64_t address) {
  DecodeResult r;
  if (code.empty()) {
    r.status = DecodeStatus::kNeedMoreBytes;
    return r;
  }
  ZydisDecodedInstruction insn;
  ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
  const size_t n = std::min<size_t>(code.size(), kMaxInstructionLength);
  r.status = status_of(ZydisDecoderDecodeFull(&decoder, code.data(), n, &insn, ops));
  // With fewer than 15 bytes in hand Zydis cannot tell "too long" from "ran out": the bytes
  // simply ended. Only a full 15-byte window that is still not enough is too long.
  if (r.status == DecodeStatus::kNeedMoreBytes && n == kMaxInstructionLength) r.status = DecodeStatus::kTooLong;
  if (r.ok()) r.instruction = DecodedInstruction(insn, ops, code, address);
  return r;
}

}  // namespace

const char* to_string(DecodeStatus s) {
  switch (s) {
    case DecodeStatus::kOk: return "ok";
    case DecodeStatus::kNeedMoreBytes: return "needs more bytes";
    case DecodeStatus::kTooLong: return "longer than 15 bytes";
    case DecodeStatus::kInvalid: return "invalid instruction";
  }
  return "?";
}

DecodedInstruction::DecodedInstruction(const ZydisDecodedInstruction& insn, const ZydisDecodedOperand* operands,
                                       std::span<const uint8_t> bytes, uint64_t address)
    : insn_(insn), address_(address) {
  std::copy(operands, operands + insn.operand_count, operands_.begin());
  std::memcpy(bytes_.data(), bytes.data(), insn.length);
}

bool DecodedInstruction::has_memory_operand() const {
  return std::any_of(operands().begin(), operands().end(),
                     [](const ZydisDecodedOperand& op) { return op.type == ZYDIS_OPERAND_TYPE_MEMORY; });
}

ZydisRegister DecodedInstruction::segment_override() const {
  // Zydis reports only the effective override in the attributes (SDM vol. 2 2.1.1: with
  // several segment prefixes the last one counts).
  const auto a = insn_.attributes;
  if (a & ZYDIS_ATTRIB_HAS_SEGMENT_CS) return ZYDIS_REGISTER_CS;
  if (a & ZYDIS_ATTRIB_HAS_SEGMENT_SS) return ZYDIS_REGISTER_SS;
  if (a & ZYDIS_ATTRIB_HAS_SEGMENT_DS) return ZYDIS_REGISTER_DS;
  if (a & ZYDIS_ATTRIB_HAS_SEGMENT_ES) return ZYDIS_REGISTER_ES;
  if (a & ZYDIS_ATTRIB_HAS_SEGMENT_FS) return ZYDIS_REGISTER_FS;
  if (a & ZYDIS_ATTRIB_HAS_SEGMENT_GS) return ZYDIS_REGISTER_GS;
  return ZYDIS_REGISTER_NONE;
}

std::optional<uint32_t> DecodedInstruction::branch_target() const {
  if (!(insn_.attributes & ZYDIS_ATTRIB_IS_RELATIVE)) return std::nullopt;
  for (const auto& op : visible_operands()) {
    if (op.type != ZYDIS_OPERAND_TYPE_IMMEDIATE || !op.imm.is_relative) continue;
    uint32_t target = next_eip() + static_cast<uint32_t>(op.imm.value.s);
    if (insn_.operand_width == 16) target &= 0xffff;
    return target;
  }
  return std::nullopt;
}

std::string DecodedInstruction::text() const {
  static const ZydisFormatter formatter = [] {
    ZydisFormatter f;
    ZydisFormatterInit(&f, ZYDIS_FORMATTER_STYLE_INTEL);
    return f;
  }();
  char buf[256];
  if (!ZYAN_SUCCESS(ZydisFormatterFormatInstruction(&formatter, &insn_, operands_.data(),
                                                    insn_.operand_count_visible, buf, sizeof buf, address_,
                                                    nullptr))) {
    return "(unformattable)";
  }
  return buf;
}

DecodeResult decode(std::span<const uint8_t> code, uint32_t eip) {
  DecodeResult r = decode_with(guest_decoder(), code, eip);
  if (r.ok()) {
    c_decoded.inc();
  } else if (r.status != DecodeStatus::kNeedMoreBytes) {
    c_decode_failures.inc();
  }
  return r;
}

DecodeResult decode_host64(std::span<const uint8_t> code, uint64_t rip) {
  return decode_with(host_decoder(), code, rip);
}

}  // namespace btvmm::translator
