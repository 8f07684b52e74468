// Which EFLAGS bits POPF and IRET may change, as a function of CPL, IOPL and operand size
// (Intel SDM vol. 2 POPF and IRET pseudocode, vol. 1 3.4.3). Pure bit arithmetic.
#pragma once

#include <cstdint>

#include "runtime/vcpu_state.h"

namespace btvmm::runtime {

inline uint8_t iopl_of(uint32_t eflags) { return (eflags >> 12) & 3; }

// Reserved EFLAGS bits (1, 3, 5, 15, 22-31) keep their fixed values: bit 1 set, the rest clear.
inline uint32_t with_fixed_bits(uint32_t eflags) { return (eflags & 0x003f7fd5u) | kFlagFixed1; }

// POPF/POPFD in protected mode (not v8086): RF is cleared, VM/VIP/VIF never change, IOPL only
// at CPL 0, IF only when CPL <= IOPL. A 16-bit POPF changes bits 15:0 only.
inline uint32_t popf_result(uint32_t old, uint32_t popped, uint8_t cpl, unsigned operand_size) {
  uint32_t mask = kArithFlags | kFlagTf | kFlagDf | kFlagNt;
  if (operand_size == 32) mask |= kFlagAc | kFlagId;
  if (cpl <= iopl_of(old)) mask |= kFlagIf;
  if (cpl == 0) mask |= kFlagIopl;
  uint32_t r = (old & ~mask) | (popped & mask);
  if (operand_size == 32) r &= ~kFlagRf;
  return with_fixed_bits(r);
}

// IRET returning within protected mode (same or outer privilege), `cpl` being the CPL before
// the return (SDM vol. 2 IRET, RETURN-TO-SAME-PRIVILEGE-LEVEL).
inline uint32_t iret_result(uint32_t old, uint32_t popped, uint8_t cpl, unsigned operand_size) {
  uint32_t mask = kArithFlags | kFlagTf | kFlagDf | kFlagNt;
  if (operand_size == 32) mask |= kFlagRf | kFlagAc | kFlagId;
  if (cpl <= iopl_of(old)) mask |= kFlagIf;
  if (cpl == 0) {
    mask |= kFlagIopl;
    if (operand_size == 32) mask |= kFlagVif | kFlagVip;
  }
  return with_fixed_bits((old & ~mask) | (popped & mask));
}

}  // namespace btvmm::runtime
