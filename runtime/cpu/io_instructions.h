// Port I/O instructions: IN/OUT (imm8 and DX, 8/16/32-bit) and INS/OUTS with REP and the
// direction flag (Intel SDM vol. 2 IN/OUT/INS/OUTS), with the I/O permission check of SDM vol. 1
// 19.5 (CPL <= IOPL, else the TSS I/O bitmap). Devices are reached only through CpuEnv.
#pragma once

#include <cstdint>

#include "runtime/cpu/step_result.h"
#include "runtime/cpu_env.h"
#include "runtime/vcpu_state.h"
#include "translator/decode.h"

namespace btvmm::runtime {

// #GP(0) unless CPL <= IOPL or every bit for port..port+size-1 in the 32-bit TSS's I/O bitmap is
// clear (bits beyond the TSS limit count as set; a 16-bit TSS has no bitmap).
Fault check_io_permission(const VcpuState& vcpu, CpuEnv& env, uint16_t port, unsigned size);

Fault exec_in_out(VcpuState& vcpu, CpuEnv& env, const translator::DecodedInstruction& insn);
// INS/OUTS; with REP the whole count runs in one call, and ESI/EDI/ECX always describe the
// progress, so a fault mid-way is restartable exactly like on hardware.
Fault exec_string_io(VcpuState& vcpu, CpuEnv& env, const translator::DecodedInstruction& insn);

}  // namespace btvmm::runtime
