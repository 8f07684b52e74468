// The CPU model btvmm offers its guest: CPUID leaves, the MSRs it has, and the guest TSC.
// A family-6 "GenuineIntel" processor with FPU, DE, PSE, TSC, MSR, CX8, PGE, CMOV, MMX, FXSR,
// SSE and SSE2; no APIC, PAE, SEP, MTRR, MCE, PAT, CLFLUSH, no architectural PMU; the hypervisor
// bit set (the guest does run in a VM) but no leaf 0x40000000 interface (DESIGN.md 4,
// CONVENTIONS.md: advertise only what btvmm really provides). The TSC rate is enumerated in
// leaves 0x15/0x16 as real CPUs do; it is invariant (with IA32_TSC_ADJUST) when the host's TSC is.
// Must never report the host's CPUID or MSRs.
#pragma once

#include <cstdint>

#include "runtime/cpu/step_result.h"
#include "runtime/cpu_env.h"
#include "runtime/vcpu_state.h"

namespace btvmm::runtime {

struct CpuidResult {
  uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;
};

// CPUID leaf `leaf`, sub-leaf `subleaf` (leaves 4 and 7 have sub-leaves; every one of this model
// but leaf 7 sub-leaf 0 is empty), for a guest TSC running at `tsc_khz` (0: rate unknown, leaves
// 0x15/0x16 say so) that is invariant or not (CPUID.80000007H:EDX[8]).
// With `arch_capabilities` non-zero, CPUID.(EAX=07H,ECX=0):EDX[29] says IA32_ARCH_CAPABILITIES exists.
CpuidResult cpuid_leaf(uint32_t leaf, uint32_t subleaf, uint32_t tsc_khz, bool tsc_invariant = false,
                       uint64_t arch_capabilities = 0);

// Highest basic leaf: 0x16, the processor frequency leaf (SDM vol. 2 CPUID).
inline constexpr uint32_t kMaxBasicLeaf = 0x16;

// MSR numbers the model implements (SDM vol. 4 table 2-2).
inline constexpr uint32_t kMsrTsc = 0x10;
// IA32_TSC_ADJUST (SDM vol. 3 17.17.3): reads the total adjustment, writes move the TSC.
inline constexpr uint32_t kMsrTscAdjust = 0x3b;
// IA32_PLATFORM_ID (read-only): Linux's microcode driver reads it unguarded on family 6 model >= 5
// to pick an update; platform id 0 (bits 52:50) as KVM reports. WRMSR is #GP(0).
inline constexpr uint32_t kMsrPlatformId = 0x17;
inline constexpr uint32_t kMsrBiosSignId = 0x8b;  // microcode revision: reads 0, writes ignored
// IA32_MISC_ENABLE: Linux reads it without a safe wrapper on family 6 model >= 13 (fast-string
// check in early_init_intel); reads give bit 0 (fast strings enabled), writes are ignored.
inline constexpr uint32_t kMsrMiscEnable = 0x1a0;
// IA32_ARCH_CAPABILITIES (read-only; SDM vol. 4 table 2-2): present when the env reports bits
// (CpuEnv::arch_capabilities), as KVM derives them from the host; WRMSR is #GP(0).
inline constexpr uint32_t kMsrArchCapabilities = 0x10a;
inline constexpr uint32_t kMsrSysenterCs = 0x174;
inline constexpr uint32_t kMsrSysenterEsp = 0x175;
inline constexpr uint32_t kMsrSysenterEip = 0x176;

// RDMSR/WRMSR on ECX with EDX:EAX; #GP(0) at CPL > 0 and for every MSR the model lacks
// (IA32_APIC_BASE included: there is no APIC), as Linux's rdmsr_safe probes expect.
Fault exec_rdmsr(VcpuState& vcpu, CpuEnv& env);
Fault exec_wrmsr(VcpuState& vcpu, CpuEnv& env);
// RDTSC: EDX:EAX = host TSC + tsc_offset; #GP(0) with CR4.TSD at CPL > 0.
Fault exec_rdtsc(VcpuState& vcpu, CpuEnv& env);
// CPUID on EAX (and ECX) into EAX/EBX/ECX/EDX; the TSC rate and invariance come from the env.
void exec_cpuid(VcpuState& vcpu, CpuEnv& env);

}  // namespace btvmm::runtime
