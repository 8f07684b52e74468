// Privileged system instructions and their unprivileged store forms (Intel SDM vol. 3 2.8 and
// 5.9, vol. 2 instruction pages): MOV CRn/DRn, LGDT/LIDT/LLDT/LTR, SGDT/SIDT/SLDT/STR/SMSW,
// LMSW, CLTS, INVLPG, INVD/WBINVD. Changes only the vCPU (and descriptor bits in guest memory);
// the shadow MMU hears about paging changes through CpuEnv::paging_changed.
//
// Control-register model (what CPUID advertises, cpu_model.h): CR0 all P6 bits with ET
// hard-wired to 1; CR4 accepts TSD, DE, PSE, PGE, OSFXSR and OSXMMEXCPT, any other bit is #GP(0)
// (no VME/PVI, PAE, MCE, PCE). Debug registers are stored but breakpoints are not armed.
#pragma once

#include "runtime/cpu/step_result.h"
#include "runtime/cpu_env.h"
#include "runtime/vcpu_state.h"
#include "translator/decode.h"

namespace btvmm::runtime {

inline constexpr uint32_t kCr0Pe = 1u << 0, kCr0Mp = 1u << 1, kCr0Em = 1u << 2, kCr0Ts = 1u << 3,
                          kCr0Et = 1u << 4, kCr0Ne = 1u << 5, kCr0Wp = 1u << 16, kCr0Am = 1u << 18,
                          kCr0Nw = 1u << 29, kCr0Cd = 1u << 30, kCr0Pg = 1u << 31;
inline constexpr uint32_t kCr4Tsd = 1u << 2, kCr4De = 1u << 3, kCr4Pse = 1u << 4, kCr4Pge = 1u << 7,
                          kCr4Osfxsr = 1u << 9, kCr4Osxmmexcpt = 1u << 10;
inline constexpr uint32_t kCr4Supported = kCr4Tsd | kCr4De | kCr4Pse | kCr4Pge | kCr4Osfxsr | kCr4Osxmmexcpt;

// Register-level writes, shared with LMSW/CLTS and usable by loaders and tests.
Fault write_cr0(VcpuState& vcpu, CpuEnv& env, uint32_t value);
Fault write_cr4(VcpuState& vcpu, CpuEnv& env, uint32_t value);
void write_cr3(VcpuState& vcpu, CpuEnv& env, uint32_t value);

using translator::DecodedInstruction;
Fault exec_mov_control(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn);  // 0F 20/22
Fault exec_mov_debug(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn);    // 0F 21/23
Fault exec_load_table_register(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn);   // LGDT/LIDT
Fault exec_store_table_register(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn);  // SGDT/SIDT
Fault exec_lldt(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn);
Fault exec_ltr(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn);
Fault exec_store_selector(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn);  // SLDT/STR
Fault exec_smsw(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn);
Fault exec_lmsw(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn);
Fault exec_clts(VcpuState& vcpu, CpuEnv& env);
Fault exec_invlpg(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn);
// LAR/LSL/VERR/VERW: ZF and (LAR/LSL) the destination register.
Fault exec_selector_query(VcpuState& vcpu, CpuEnv& env, const DecodedInstruction& insn);

}  // namespace btvmm::runtime
