// Tests of the guest CPU model (runtime/cpu/cpu_model.*): CPUID leaves coherent up to the highest
// one, the TSC rate in leaves 0x15/0x16 as Linux 6.1 reads it, the MSRs Linux reads on this model,
// and the host TSC rate measurement behind MonitorEnv::tsc_khz().
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "runtime/cpu/cpu_model.h"
#include "runtime/monitor_env.h"
#include "tests/runtime/test_machine.h"

using namespace btvmm::runtime;
using namespace btvmm::runtime::test;

namespace {

// Linux 6.1 arch/x86/kernel/tsc.c native_calibrate_tsc(): crystal_khz = ECX / 1000, then
// crystal_khz * EBX / EAX in unsigned int arithmetic. Returns 0 where Linux gives up.
uint32_t linux_tsc_khz_from_leaf_15(const CpuidResult& r) {
  if (r.eax == 0 || r.ebx == 0) return 0;
  const uint32_t crystal_khz = r.ecx / 1000;
  return uint32_t(crystal_khz * r.ebx) / r.eax;  // wraps like the kernel's 32-bit product
}

}  // namespace

TEST_CASE("cpuid_reports_genuine_intel_family_6_with_hypervisor_bit_and_without_apic_or_pae") {
  const CpuidResult v = cpuid_leaf(0, 0, 0);
  char vendor[13] = {};
  std::memcpy(vendor, &v.ebx, 4);
  std::memcpy(vendor + 4, &v.edx, 4);
  std::memcpy(vendor + 8, &v.ecx, 4);
  CHECK(std::string(vendor) == "GenuineIntel");
  CHECK(v.eax == 0x16);
  const CpuidResult f = cpuid_leaf(1, 0, 0);
  CHECK(((f.eax >> 8) & 0xf) == 6);
  CHECK((f.edx & (1u << 0)) != 0);   // FPU
  CHECK((f.edx & (1u << 3)) != 0);   // PSE (the test guest requires it)
  CHECK((f.edx & (1u << 4)) != 0);   // TSC
  CHECK((f.edx & (1u << 8)) != 0);   // CX8 (Linux hangs without it)
  CHECK((f.edx & (1u << 9)) == 0);   // no APIC
  CHECK((f.edx & (1u << 6)) == 0);   // no PAE
  CHECK((f.edx & (1u << 11)) == 0);  // no SEP
  CHECK((f.ecx & (1u << 31)) != 0);  // hypervisor present (no PMU, no microcode loader expected)
  // No paravirtual interface: leaf 0x40000000 is out of range like any other (highest basic leaf).
  const uint32_t khz = 2445406;
  const CpuidResult h = cpuid_leaf(0x40000000, 0, khz);
  const CpuidResult top = cpuid_leaf(0x16, 0, khz);
  CHECK(h.eax == top.eax);
  CHECK(h.ebx == top.ebx);
  CHECK(h.ecx == top.ecx);
  CHECK(h.edx == top.edx);
}

TEST_CASE("cpuid_leaves_below_the_maximum_describe_caches_but_no_pmu_topology_or_xsave") {
  // Leaf 2: AL = 1 and descriptor 0xFF (see leaf 4); leaf 4: L1d, L1i, unified L2, then type 0.
  CHECK(cpuid_leaf(2, 0, 0).eax == 0xff01);
  CHECK(cpuid_leaf(2, 0, 0).ebx == 0);
  auto cache_bytes = [](const CpuidResult& r) {
    return ((r.ebx >> 22) + 1) * (((r.ebx >> 12) & 0x3ff) + 1) * ((r.ebx & 0xfff) + 1) * (r.ecx + 1);
  };
  const CpuidResult l1d = cpuid_leaf(4, 0, 0), l1i = cpuid_leaf(4, 1, 0), l2 = cpuid_leaf(4, 2, 0);
  CHECK((l1d.eax & 0x1f) == 1);
  CHECK((l1i.eax & 0x1f) == 2);
  CHECK((l2.eax & 0x1f) == 3);
  CHECK(((l2.eax >> 5) & 7) == 2);
  CHECK(cache_bytes(l1d) == 32 * 1024);
  CHECK(cache_bytes(l1i) == 32 * 1024);
  CHECK(cache_bytes(l2) == 2048 * 1024);
  CHECK((cpuid_leaf(4, 3, 0).eax & 0x1f) == 0);
  CHECK((cpuid_leaf(0x80000006, 0, 0).ecx >> 16) == 2048);  // the same L2 in the extended leaf
  // Leaf 7 sub-leaf 0: max sub-leaf 0 and, of the structured extended features, TSC_ADJUST only.
  const CpuidResult s = cpuid_leaf(7, 0, 0);
  CHECK(s.eax == 0);
  CHECK(s.ebx == (1u << 1));
  CHECK(s.ecx == 0);
  CHECK(s.edx == 0);
  CHECK(cpuid_leaf(7, 1, 0).ebx == 0);
  // Leaf 0xa: architectural PMU version 0 (Linux: no ARCH_PERFMON).
  CHECK((cpuid_leaf(0xa, 0, 0).eax & 0xff) == 0);
  // Leaf 0xb: EBX[15:0] = 0 means the leaf is not supported (SDM vol. 2 CPUID 0BH).
  CHECK((cpuid_leaf(0xb, 0, 0).ebx & 0xffff) == 0);
  // Leaf 0xd: no XSAVE state.
  CHECK(cpuid_leaf(0xd, 0, 0).eax == 0);
  for (uint32_t leaf = 3; leaf <= 0x14; ++leaf) {
    if (leaf == 4 || leaf == 7) continue;
    INFO("leaf " << leaf);
    const CpuidResult r = cpuid_leaf(leaf, 0, 2000000);
    CHECK((r.eax | r.ebx | r.ecx | r.edx) == 0);
  }
}

TEST_CASE("cpuid_leaf_15_gives_linux_the_tsc_rate_exactly_without_32_bit_overflow") {
  for (uint32_t khz : {1u, 999u, 1000000u, 2445406u, 2999999u, 3600000u, 4294967u}) {
    INFO("tsc_khz " << khz);
    const CpuidResult r = cpuid_leaf(0x15, 0, khz);
    CHECK(uint64_t(r.ecx / 1000) * r.ebx <= 0xffffffffull);
    CHECK(linux_tsc_khz_from_leaf_15(r) == khz);
  }
  // Above ~4.29 GHz the ratio is rounded to fit the kernel's 32-bit product: within 10 kHz.
  for (uint32_t khz : {4300000u, 5123457u}) {
    INFO("tsc_khz " << khz);
    const CpuidResult r = cpuid_leaf(0x15, 0, khz);
    CHECK(uint64_t(r.ecx / 1000) * r.ebx <= 0xffffffffull);
    const int64_t got = linux_tsc_khz_from_leaf_15(r);
    CHECK(got >= int64_t(khz) - 10);
    CHECK(got <= int64_t(khz) + 10);
  }
}

TEST_CASE("cpuid_leaf_16_reports_the_tsc_rate_as_base_frequency_in_mhz") {
  const CpuidResult r = cpuid_leaf(0x16, 0, 2445406);
  CHECK(r.eax == 2445);
  CHECK(r.ebx == 2445);
}

TEST_CASE("cpuid_with_unknown_tsc_rate_enumerates_no_ratio") {
  const CpuidResult r = cpuid_leaf(0x15, 0, 0);
  CHECK(r.ebx == 0);  // SDM vol. 2 CPUID 15H: EBX = 0 means the ratio is not enumerated
  CHECK(linux_tsc_khz_from_leaf_15(r) == 0);
  CHECK(cpuid_leaf(0x16, 0, 0).eax == 0);
}

TEST_CASE("cpuid_instruction_takes_the_tsc_rate_from_the_environment") {
  Machine m;
  m.env.khz = 1800000;
  m.vcpu.gpr[kEax] = 0x15;
  m.vcpu.gpr[kEcx] = 0;
  REQUIRE(m.run({0x0f, 0xa2}).kind == StepResult::kContinue);
  CpuidResult r{m.vcpu.gpr[kEax], m.vcpu.gpr[kEbx], m.vcpu.gpr[kEcx], m.vcpu.gpr[kEdx]};
  CHECK(linux_tsc_khz_from_leaf_15(r) == 1800000);
  m.vcpu.gpr[kEax] = 0x16;
  REQUIRE(m.run({0x0f, 0xa2}).kind == StepResult::kContinue);
  CHECK(m.vcpu.gpr[kEax] == 1800);
}

TEST_CASE("cpuid_80000007_reports_an_invariant_tsc_only_when_the_host_tsc_is") {
  CHECK(cpuid_leaf(0x80000000, 0, 0).eax == 0x80000007);
  CHECK(cpuid_leaf(0x80000007, 0, 0, true).edx == (1u << 8));
  CHECK(cpuid_leaf(0x80000007, 0, 0, false).edx == 0);
  Machine m;
  m.vcpu.gpr[kEax] = 0x80000007;
  REQUIRE(m.run({0x0f, 0xa2}).kind == StepResult::kContinue);
  CHECK(m.vcpu.gpr[kEdx] == 0);  // the fake env does not claim an invariant TSC
}

TEST_CASE("tsc_writes_accumulate_in_tsc_adjust_and_tsc_adjust_writes_move_the_tsc") {
  Machine m;
  m.env.tsc = 1000;
  m.vcpu.gpr[kEcx] = kMsrTsc;
  m.vcpu.gpr[kEdx] = 0;
  m.vcpu.gpr[kEax] = 5000;
  REQUIRE(m.run({0x0f, 0x30}).kind == StepResult::kContinue);  // TSC := 5000: +4000
  m.vcpu.gpr[kEcx] = kMsrTscAdjust;
  REQUIRE(m.run({0x0f, 0x32}).kind == StepResult::kContinue);
  CHECK(m.vcpu.gpr[kEax] == 4000);
  m.vcpu.gpr[kEdx] = 0;
  m.vcpu.gpr[kEax] = 0;  // TSC_ADJUST := 0 moves the TSC back by 4000 (SDM vol. 3 17.17.3)
  REQUIRE(m.run({0x0f, 0x30}).kind == StepResult::kContinue);
  REQUIRE(m.run({0x0f, 0x31}).kind == StepResult::kContinue);
  CHECK(m.vcpu.gpr[kEax] == 1000);
  CHECK(m.vcpu.gpr[kEdx] == 0);
}

TEST_CASE("rdmsr_platform_id_reads_zero_and_wrmsr_to_it_raises_gp0") {
  Machine m;
  m.vcpu.gpr[kEcx] = kMsrPlatformId;
  m.vcpu.gpr[kEax] = m.vcpu.gpr[kEdx] = 0xdeadbeef;
  REQUIRE(m.run({0x0f, 0x32}).kind == StepResult::kContinue);
  CHECK(m.vcpu.gpr[kEax] == 0);
  CHECK(m.vcpu.gpr[kEdx] == 0);
  CHECK(is_fault(m.run({0x0f, 0x30}), kGp, 0));
}

TEST_CASE("rdmsr_of_p6_performance_counters_raises_gp0_as_without_a_pmu") {
  // Linux's check_hw_exists() reads P6_EVNTSEL0 (0x186) with rdmsrl_safe; with the hypervisor bit
  // a #GP makes it say "PMU not available due to virtualization", as under QEMU.
  Machine m;
  for (uint32_t msr : {0x186u, 0x187u, 0xc1u, 0xc2u}) {
    INFO("msr " << msr);
    m.vcpu.gpr[kEcx] = msr;
    CHECK(is_fault(m.run({0x0f, 0x32}), kGp, 0));
  }
}

TEST_CASE("host_tsc_rate_matches_the_tsc_advance_over_a_timed_sleep") {
  const uint32_t khz = host_tsc_khz();
  REQUIRE(khz > 100000);  // any x86-64 host runs its TSC above 100 MHz
  CHECK(host_tsc_khz() == khz);  // measured once, constant afterwards
  timespec t0{}, t1{};
  clock_gettime(CLOCK_MONOTONIC, &t0);
  const uint64_t c0 = __rdtsc();
  timespec pause{0, 200000000};
  while (nanosleep(&pause, &pause) != 0) {
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  const uint64_t c1 = __rdtsc();
  const double ns = double(t1.tv_sec - t0.tv_sec) * 1e9 + double(t1.tv_nsec - t0.tv_nsec);
  const double observed_khz = double(c1 - c0) / ns * 1e6;
  // 0.1 %: far looser than the measurement, far tighter than a wrong unit or a bad sample.
  CHECK(observed_khz == Approx(double(khz)).epsilon(0.001));
}

// IA32_ARCH_CAPABILITIES exists exactly when the env has "not affected" bits for it: CPUID leaf 7
// says so and RDMSR returns them; without bits, no CPUID flag and RDMSR is #GP(0) as before.
// WRMSR is always #GP(0) (read-only MSR).
TEST_CASE("arch_capabilities_msr_and_its_cpuid_flag_follow_the_environment") {
  Machine m;
  m.vcpu.gpr[kEax] = 7;
  m.vcpu.gpr[kEcx] = 0;
  REQUIRE(m.run({0x0f, 0xa2}).kind == StepResult::kContinue);
  CHECK((m.vcpu.gpr[kEdx] & (1u << 29)) == 0);
  m.vcpu.gpr[kEcx] = kMsrArchCapabilities;
  CHECK(is_fault(m.run({0x0f, 0x32}), kGp, 0));

  m.env.caps = (1ull << 5) | (1ull << 27);  // MDS_NO, RFDS_NO
  m.vcpu.gpr[kEax] = 7;
  m.vcpu.gpr[kEcx] = 0;
  REQUIRE(m.run({0x0f, 0xa2}).kind == StepResult::kContinue);
  CHECK((m.vcpu.gpr[kEdx] & (1u << 29)) != 0);
  CHECK(m.vcpu.gpr[kEbx] == (1u << 1));  // TSC_ADJUST still
  m.vcpu.gpr[kEcx] = kMsrArchCapabilities;
  REQUIRE(m.run({0x0f, 0x32}).kind == StepResult::kContinue);
  CHECK(m.vcpu.gpr[kEax] == ((1u << 5) | (1u << 27)));
  CHECK(m.vcpu.gpr[kEdx] == 0);
  CHECK(is_fault(m.run({0x0f, 0x30}), kGp, 0));
}

// The host's verdicts become bits only where the host kernel says "Not affected".
TEST_CASE("host_arch_capabilities_come_from_not_affected_verdicts_only") {
  char dir[] = "/tmp/btvmm-vulnXXXXXX";
  REQUIRE(mkdtemp(dir) != nullptr);
  auto put = [&](const char* name, const char* text) {
    FILE* f = std::fopen((std::string(dir) + "/" + name).c_str(), "w");
    REQUIRE(f);
    std::fputs(text, f);
    std::fclose(f);
  };
  put("mds", "Not affected\n");
  put("tsx_async_abort", "Mitigation: Clear CPU buffers; SMT vulnerable\n");
  put("mmio_stale_data", "Not affected\n");
  put("gather_data_sampling", "Vulnerable\n");
  CHECK(host_arch_capabilities_from(dir) == ((1ull << 5) | (7ull << 13)));
  CHECK(host_arch_capabilities_from(std::string(dir) + "/absent") == 0);
  for (const char* n : {"mds", "tsx_async_abort", "mmio_stale_data", "gather_data_sampling"})
    std::remove((std::string(dir) + "/" + n).c_str());
  rmdir(dir);
}
