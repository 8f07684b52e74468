// Reading and writing the operands of a decoded guest instruction on the virtual CPU: general
// registers by Zydis name (with 8/16-bit partial-register semantics), segment registers, and the
// effective address of a memory operand (SDM vol. 1 3.7.5, vol. 2 2.1.5). Never touches memory.
#pragma once

#include <cstdint>
#include <optional>

#include <Zydis/Zydis.h>

#include "runtime/vcpu_state.h"
#include "translator/decode.h"

namespace btvmm::runtime {

// Value of a general-purpose register (AL..EDI, AH..BH), zero-extended.
uint32_t read_gpr(const VcpuState& vcpu, ZydisRegister reg);
// Writes a general-purpose register with x86 partial-register rules: 8 and 16-bit writes keep
// the other bits, 32-bit writes replace all of them.
void write_gpr(VcpuState& vcpu, ZydisRegister reg, uint32_t value);
// Width in bits of a general-purpose register operand (8, 16, 32), 0 if it is not one.
unsigned gpr_width(ZydisRegister reg);

// ES..GS -> SegReg, nullopt for anything else.
std::optional<SegReg> seg_reg_of(ZydisRegister reg);

// Offset (before the segment base) of a memory operand: base + index * scale + displacement,
// truncated to the address size (16 or 32 bits, SDM vol. 2 table 2-1 / 2-2).
uint32_t effective_address(const VcpuState& vcpu, const translator::DecodedInstruction& insn,
                           const ZydisDecodedOperand& mem);
// The segment a memory operand uses (override or default, as Zydis resolved it).
SegReg operand_segment(const ZydisDecodedOperand& mem);

// First visible operand of the given type (most callouts have one memory or register operand).
const ZydisDecodedOperand* find_operand(const translator::DecodedInstruction& insn, ZydisOperandType type);

}  // namespace btvmm::runtime
