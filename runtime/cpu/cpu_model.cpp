// btvmm's guest CPU model (see cpu_model.h). Values follow Intel SDM vol. 2 CPUID for a family-6
// processor; the brand string names btvmm so logs show which machine ran.
#include "runtime/cpu/cpu_model.h"

#include <cstring>
#include <iterator>
#include <numeric>

#include "runtime/cpu/counters.h"
#include "runtime/cpu/system_instructions.h"

namespace btvmm::runtime {
namespace {

constexpr uint32_t kMaxExtendedLeaf = 0x80000007;

// CPUID.01H:EDX bits (SDM vol. 2 table 3-11).
constexpr uint32_t kFpu = 1u << 0, kDebugExt = 1u << 2, kPse = 1u << 3, kTsc = 1u << 4, kMsr = 1u << 5,
                   kCx8 = 1u << 8, kPge = 1u << 13, kCmov = 1u << 15, kMmx = 1u << 23, kFxsr = 1u << 24,
                   kSse = 1u << 25, kSse2 = 1u << 26;
// CPUID.01H:ECX bit 31: reserved for a hypervisor to say one is present (SDM vol. 2 table 3-10
// leaves it "not used"; VMware, KVM and QEMU set it). Linux then expects no PMU and no microcode
// loader (arch/x86/events/core.c check_hw_exists, microcode/core.c), as in any VM.
constexpr uint32_t kHypervisor = 1u << 31;
// CPUID.(EAX=07H,ECX=0):EBX bit 1: IA32_TSC_ADJUST exists. CPUID.80000007H:EDX bit 8: invariant
// TSC. Linux 6.1 (tsc.c check_system_tsc_reliable) trusts a constant, non-stop TSC with TSC_ADJUST
// and skips the clocksource watchdog; otherwise its watchdog here is the PIT clocksource, built on
// jiffies, which lags whenever a tick is late on a busy host and wrongly marks the TSC unstable.
constexpr uint32_t kTscAdjust = 1u << 1;
// CPUID.(EAX=07H,ECX=0):EDX bit 29: IA32_ARCH_CAPABILITIES is readable.
constexpr uint32_t kArchCapabilitiesMsr = 1u << 29;
constexpr uint32_t kInvariantTsc = 1u << 8;

// Family 6, model 13, stepping 6 (a Pentium M class part: SSE2 without PAE or an APIC).
constexpr uint32_t kSignature = (6u << 8) | (13u << 4) | 6u;

constexpr char kBrand[48] = "btvmm virtual CPU";

// Leaf 15H describes the TSC as crystal * EBX / EAX. A 1 MHz crystal with EAX:EBX = 1000:tsc_khz
// reduced by their gcd is exact to the kHz; Linux multiplies crystal_khz * EBX in 32 bits
// (native_calibrate_tsc), so for TSCs above ~4.29 GHz the ratio is rounded to fit.
constexpr uint32_t kCrystalHz = 1000000;

CpuidResult tsc_leaf(uint32_t tsc_khz) {
  if (tsc_khz == 0) return {};  // EBX = 0: ratio not enumerated
  uint32_t den = kCrystalHz / 1000, num = tsc_khz;
  while (uint64_t(kCrystalHz / 1000) * num > UINT32_MAX && den > 1) {
    num = (num + 5) / 10;
    den /= 10;
  }
  const uint32_t g = std::gcd(den, num);
  den /= g;
  num /= g;
  return {den, num, kCrystalHz, 0};
}

// Leaf 4 (deterministic cache parameters, SDM vol. 2 CPUID 04H): a Pentium M class hierarchy of
// 32 KiB 8-way L1 data and instruction caches and a 2 MiB 8-way unified L2, 64-byte lines. btvmm
// models no cache; these nominal values exist because software sizes its buffers from them (glibc
// derives memcpy/memset thresholds from leaves 2 and 4 and misbehaves when every size is zero).
CpuidResult cache_leaf(uint32_t subleaf) {
  struct Cache {
    uint32_t type, level, ways, sets;
  };
  static constexpr Cache kCaches[] = {{1, 1, 8, 64}, {2, 1, 8, 64}, {3, 2, 8, 4096}};
  if (subleaf >= std::size(kCaches)) return {};  // type 0: no more caches
  const Cache& c = kCaches[subleaf];
  const uint32_t eax = c.type | (c.level << 5) | (1u << 8);  // self-initializing, one thread, one core
  const uint32_t ebx = (64 - 1) | ((c.ways - 1) << 22);      // 64-byte lines, one partition
  return {eax, ebx, c.sets - 1, 0};
}

uint32_t word(const char* s) {
  uint32_t v;
  std::memcpy(&v, s, 4);
  return v;
}

void set_edx_eax(VcpuState& vcpu, uint64_t v) {
  vcpu.gpr[kEax] = uint32_t(v);
  vcpu.gpr[kEdx] = uint32_t(v >> 32);
}

}  // namespace

CpuidResult cpuid_leaf(uint32_t leaf, uint32_t subleaf, uint32_t tsc_khz, bool tsc_invariant,
                       uint64_t arch_capabilities) {
  // Intel: a leaf above the highest basic or extended one returns the highest basic leaf.
  if (leaf >= 0x80000000) {
    if (leaf > kMaxExtendedLeaf) leaf = kMaxBasicLeaf;
  } else if (leaf > kMaxBasicLeaf) {
    leaf = kMaxBasicLeaf;
  }
  switch (leaf) {
    case 0: return {kMaxBasicLeaf, word("Genu"), word("ntel"), word("ineI")};
    case 1:
      return {kSignature, 0, kHypervisor,
              kFpu | kDebugExt | kPse | kTsc | kMsr | kCx8 | kPge | kCmov | kMmx | kFxsr | kSse | kSse2};
    // Leaf 2: AL = 1 (one call) and descriptor 0xFF: "no cache descriptors here, see leaf 4".
    case 2: return {0x0000ff01, 0, 0, 0};
    case 4: return cache_leaf(subleaf);
    // Leaf 7 sub-leaf 0 (the only one: EAX = 0): of the structured extended features only
    // TSC_ADJUST and, when the env has bits for it, ARCH_CAPABILITIES.
    case 7:
      if (subleaf != 0) return {};
      return {0, kTscAdjust, 0, arch_capabilities ? kArchCapabilitiesMsr : 0};
    // Leaves 3-0x14 otherwise zero, every sub-leaf: no serial number, MONITOR, thermal/power
    // features, DCA, architectural PMU (leaf 0xa version 0), x2APIC topology (leaf 0xb EBX = 0:
    // not present), XSAVE, RDT, SGX or processor trace.
    case 0x15: return tsc_leaf(tsc_khz);
    // Leaf 16H: base and maximum frequency in MHz (the TSC runs at the base frequency); no bus
    // frequency is modelled.
    case 0x16: return {tsc_khz / 1000, tsc_khz / 1000, 0, 0};
    case 0x80000000: return {kMaxExtendedLeaf, 0, 0, 0};
    case 0x80000001: return {};  // no NX, no long mode, no syscall
    case 0x80000007: return {0, 0, 0, tsc_invariant ? kInvariantTsc : 0};
    // 0x80000006: the leaf-4 L2 again, in the extended format (2048 KiB, 8-way = 6, 64-byte lines);
    // 0x80000005 is reserved (zero) on Intel.
    case 0x80000006: return {0, 0, (2048u << 16) | (6u << 12) | 64u, 0};
    case 0x80000002: case 0x80000003: case 0x80000004: {
      const char* b = kBrand + (leaf - 0x80000002) * 16;
      return {word(b), word(b + 4), word(b + 8), word(b + 12)};
    }
    default: return {};
  }
}

void exec_cpuid(VcpuState& vcpu, CpuEnv& env) {
  counters::cpuid.inc();
  const uint32_t leaf = vcpu.gpr[kEax];
  // Only leaves 0x15/0x16 (and the out-of-range leaves that alias 0x16) need the rate; asking
  // for it lazily keeps its one-time measurement away from guests that never look.
  const bool needs_rate = leaf >= 0x15 && !(leaf >= 0x80000000 && leaf <= kMaxExtendedLeaf);
  const CpuidResult r = cpuid_leaf(leaf, vcpu.gpr[kEcx], needs_rate ? env.tsc_khz() : 0,
                                  leaf == 0x80000007 && env.tsc_invariant(), leaf == 7 ? env.arch_capabilities() : 0);
  vcpu.gpr[kEax] = r.eax;
  vcpu.gpr[kEbx] = r.ebx;
  vcpu.gpr[kEcx] = r.ecx;
  vcpu.gpr[kEdx] = r.edx;
}

Fault exec_rdmsr(VcpuState& vcpu, CpuEnv& env) {
  counters::msr.inc();
  if (vcpu.cpl != 0) return gp(0);
  switch (vcpu.gpr[kEcx]) {
    case kMsrTsc: set_edx_eax(vcpu, env.host_tsc() + vcpu.tsc_offset); return std::nullopt;
    case kMsrPlatformId: set_edx_eax(vcpu, 0); return std::nullopt;
    case kMsrTscAdjust: set_edx_eax(vcpu, vcpu.tsc_adjust); return std::nullopt;
    case kMsrBiosSignId: set_edx_eax(vcpu, 0); return std::nullopt;
    case kMsrMiscEnable: set_edx_eax(vcpu, 1); return std::nullopt;
    case kMsrArchCapabilities:
      if (const uint64_t caps = env.arch_capabilities()) {
        set_edx_eax(vcpu, caps);
        return std::nullopt;
      }
      return gp(0);
    case kMsrSysenterCs: set_edx_eax(vcpu, vcpu.sysenter_cs); return std::nullopt;
    case kMsrSysenterEsp: set_edx_eax(vcpu, vcpu.sysenter_esp); return std::nullopt;
    case kMsrSysenterEip: set_edx_eax(vcpu, vcpu.sysenter_eip); return std::nullopt;
    default: return gp(0);
  }
}

Fault exec_wrmsr(VcpuState& vcpu, CpuEnv& env) {
  counters::msr.inc();
  if (vcpu.cpl != 0) return gp(0);
  const uint64_t v = (uint64_t(vcpu.gpr[kEdx]) << 32) | vcpu.gpr[kEax];
  switch (vcpu.gpr[kEcx]) {
    // SDM vol. 3 17.17: a TSC write sets the counter, kept as an offset from the host's; the same
    // change is added to IA32_TSC_ADJUST, and a TSC_ADJUST write moves the TSC by its change
    // (17.17.3).
    case kMsrTsc: {
      const uint64_t offset = v - env.host_tsc();
      vcpu.tsc_adjust += offset - vcpu.tsc_offset;
      vcpu.tsc_offset = offset;
      return std::nullopt;
    }
    case kMsrTscAdjust:
      vcpu.tsc_offset += v - vcpu.tsc_adjust;
      vcpu.tsc_adjust = v;
      return std::nullopt;
    case kMsrBiosSignId: case kMsrMiscEnable: return std::nullopt;
    case kMsrSysenterCs: vcpu.sysenter_cs = uint32_t(v); return std::nullopt;
    case kMsrSysenterEsp: vcpu.sysenter_esp = uint32_t(v); return std::nullopt;
    case kMsrSysenterEip: vcpu.sysenter_eip = uint32_t(v); return std::nullopt;
    default: return gp(0);
  }
}

Fault exec_rdtsc(VcpuState& vcpu, CpuEnv& env) {
  if ((vcpu.cr4 & kCr4Tsd) && vcpu.cpl != 0) return gp(0);
  set_edx_eax(vcpu, env.host_tsc() + vcpu.tsc_offset);
  return std::nullopt;
}

}  // namespace btvmm::runtime
