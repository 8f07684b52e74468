// Decoding of guest code: a thin wrapper over Zydis 4.0 for 32-bit protected-mode instructions
// (CS.D = 1, 32-bit stack). It only describes what the bytes say; it never decides how an
// instruction is translated (that is classify.h) and never touches guest memory itself.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include <Zydis/Zydis.h>

namespace btvmm::translator {

// Intel SDM vol. 2 2.3.11: no IA-32 instruction is longer than 15 bytes.
inline constexpr unsigned kMaxInstructionLength = 15;

enum class DecodeStatus {
  kOk,
  // The bytes supplied end before the instruction does: fetch more (possibly from the next
  // page) and decode again. Not a guest error by itself.
  kNeedMoreBytes,
  // The instruction would be longer than 15 bytes: the guest gets #GP(0) (SDM vol. 3 6.15,
  // interrupt 13: "exceeding the instruction length limit of 15 bytes").
  kTooLong,
  // Not an instruction (undefined opcode, lock on a non-lockable instruction, bad register...):
  // the guest gets #UD.
  kInvalid,
};

const char* to_string(DecodeStatus s);

// One decoded guest instruction: Zydis's full description plus the raw bytes and the guest EIP
// it was decoded at (relative branch targets depend on it).
class DecodedInstruction {
 public:
  const ZydisDecodedInstruction& zydis() const { return insn_; }
  ZydisMnemonic mnemonic() const { return insn_.mnemonic; }
  unsigned length() const { return insn_.length; }
  uint32_t eip() const { return static_cast<uint32_t>(address_); }
  // Guest EIP of the next sequential instruction (wraps at 4 GiB like EIP does).
  uint32_t next_eip() const { return eip() + insn_.length; }
  std::span<const uint8_t> bytes() const { return {bytes_.data(), insn_.length}; }

  // Every operand Zydis reports, hidden ones (e.g. the stack slot of push) included.
  std::span<const ZydisDecodedOperand> operands() const { return {operands_.data(), insn_.operand_count}; }
  // Only the operands written in assembly syntax.
  std::span<const ZydisDecodedOperand> visible_operands() const {
    return {operands_.data(), insn_.operand_count_visible};
  }

  bool has_memory_operand() const;
  // Segment named by an override prefix (the last one wins, SDM vol. 2 2.1.1), or
  // ZYDIS_REGISTER_NONE.
  ZydisRegister segment_override() const;
  bool has_lock() const { return insn_.attributes & ZYDIS_ATTRIB_HAS_LOCK; }
  bool has_rep() const { return insn_.attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE); }
  bool has_repne() const { return insn_.attributes & ZYDIS_ATTRIB_HAS_REPNE; }
  bool has_operand_size_override() const { return insn_.attributes & ZYDIS_ATTRIB_HAS_OPERANDSIZE; }
  bool has_address_size_override() const { return insn_.attributes & ZYDIS_ATTRIB_HAS_ADDRESSSIZE; }
  // 16 or 32: the effective address size (16 only with a 0x67 prefix in 32-bit code).
  unsigned address_width() const { return insn_.address_width; }
  unsigned operand_width() const { return insn_.operand_width; }
  bool is_privileged() const { return insn_.attributes & ZYDIS_ATTRIB_IS_PRIVILEGED; }

  // Target of a relative branch (jmp/jcc/call rel, loop, jecxz): EIP of the next instruction
  // plus the signed displacement, truncated to the operand size (a 0x66-prefixed branch
  // clears EIP[31:16], SDM vol. 2 JMP/Jcc). Empty for anything else.
  std::optional<uint32_t> branch_target() const;

  // Intel syntax, e.g. "mov eax, dword ptr [ebx+0x04]".
  std::string text() const;

 DecodedInstruction() = default;
  // `bytes` must hold at least insn.length bytes.
  DecodedInstruction(const ZydisDecodedInstruction& insn, const ZydisDecodedOperand* operands,
                     std::span<const uint8_t> bytes, uint64_t address);

 private:
  ZydisDecodedInstruction insn_{};
  std::array<ZydisDecodedOperand, ZYDIS_MAX_OPERAND_COUNT> operands_{};
  std::array<uint8_t, kMaxInstructionLength> bytes_{};
  uint64_t address_ = 0;  // guest EIP, or host RIP for decode_host64
};

struct DecodeResult {
  DecodeStatus status = DecodeStatus::kInvalid;
  DecodedInstruction instruction;  // meaningful only when status == kOk
  bool ok() const { return status == DecodeStatus::kOk; }
};

// Decodes the first instruction of `code`, which sits at guest EIP `eip`. At most 15 bytes are
// looked at. Counts "translator.decoded" and "translator.decode_failures" (kNeedMoreBytes is
// not a failure: the caller is expected to supply more bytes).
DecodeResult decode(std::span<const uint8_t> code, uint32_t eip);

// Decodes `code` as 64-bit host code (test and dump helper: lets a test check what the host
// CPU will make of emitted bytes). Does not count.
DecodeResult decode_host64(std::span<const uint8_t> code, uint64_t rip);

}  // namespace btvmm::translator
