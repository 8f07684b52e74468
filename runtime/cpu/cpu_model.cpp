// btvmm's guest CPU model (see cpu_model.h). Values follow Intel SDM vol. 2 CPUID for a family-6
// processor; the brand string names btvmm so logs show which machine ran.
#include "runtime/cpu/cpu_model.h"

#include <cstring>

#include "runtime/cpu/counters.h"
#include "runtime/cpu/system_instructions.h"

namespace btvmm::runtime {
namespace {

constexpr uint32_t kMaxBasicLeaf = 1;
constexpr uint32_t kMaxExtendedLeaf = 0x80000004;

// CPUID.01H:EDX bits (SDM vol. 2 table 3-11).
constexpr uint32_t kFpu = 1u << 0, kDebugExt = 1u << 2, kPse = 1u << 3, kTsc = 1u << 4, kMsr = 1u << 5,
                   kCx8 = 1u << 8, kPge = 1u << 13, kCmov = 1u << 15, kMmx = 1u << 23, kFxsr = 1u << 24,
                   kSse = 1u << 25, kSse2 = 1u << 26;

// Family 6, model 13, stepping 6 (a Pentium M class part: SSE2 without PAE or an APIC).
constexpr uint32_t kSignature = (6u << 8) | (13u << 4) | 6u;

constexpr char kBrand[48] = "btvmm virtual CPU";

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

CpuidResult cpuid_leaf(uint32_t leaf) {
  if (leaf >= 0x80000000) {
    if (leaf > kMaxExtendedLeaf) leaf = kMaxBasicLeaf;  // Intel: out-of-range -> highest basic leaf
  } else if (leaf > kMaxBasicLeaf) {
    leaf = kMaxBasicLeaf;
  }
  switch (leaf) {
    case 0: return {kMaxBasicLeaf, word("Genu"), word("ntel"), word("ineI")};
    case 1: return {kSignature, 0, 0, kFpu | kDebugExt | kPse | kTsc | kMsr | kCx8 | kPge | kCmov | kMmx | kFxsr | kSse | kSse2};
    case 0x80000000: return {kMaxExtendedLeaf, 0, 0, 0};
    case 0x80000001: return {};  // no NX, no long mode, no syscall
    default: {
      const char* b = kBrand + (leaf - 0x80000002) * 16;
      return {word(b), word(b + 4), word(b + 8), word(b + 12)};
    }
  }
}

void exec_cpuid(VcpuState& vcpu) {
  counters::cpuid.inc();
  const CpuidResult r = cpuid_leaf(vcpu.gpr[kEax]);
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
    case kMsrBiosSignId: set_edx_eax(vcpu, 0); return std::nullopt;
    case kMsrMiscEnable: set_edx_eax(vcpu, 1); return std::nullopt;
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
    // SDM vol. 3 18.17: a TSC write sets the counter; keep it as an offset from the host's.
    case kMsrTsc: vcpu.tsc_offset = v - env.host_tsc(); return std::nullopt;
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
