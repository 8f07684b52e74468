// CpuEnv over the real machine (see monitor_env.h); also measures the host TSC rate for CPUID.
// Never reaches guest memory except through GuestMemory, the write traces and the buses.
#include "runtime/monitor_env.h"

#include <cpuid.h>
#include <time.h>
#include <x86intrin.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <string>

#include "core/stats.h"

namespace btvmm::runtime {

namespace {
stats::Counter c_reads{"monitor.linear_reads", "guest linear reads done by the monitor (emulation)"};
stats::Counter c_writes{"monitor.linear_writes", "guest linear writes done by the monitor (emulation)"};
stats::Counter c_string_runs{"monitor.string_runs",
                             "REP MOVS/STOS runs the monitor did as one copy or fill (up to a page each)"};
stats::Counter c_string_bytes{"monitor.string_run_bytes", "bytes moved or filled by those runs"};
stats::Counter c_walks{"monitor.walks", "guest page walks done by the monitor (its TLB missed)"};
stats::Counter c_tlb_hits{"monitor.tlb_hits", "monitor accesses translated by its TLB without a walk"};
stats::Counter c_mmio{"monitor.mmio_accesses", "monitor accesses that reached the MMIO bus"};
}  // namespace

MonitorEnv::MonitorEnv(VcpuState& vcpu, mmu::GuestMemory& mem, mmu::WriteTraces& traces, devices::PortBus& ports,
                       devices::MmioBus& mmio)
    : vcpu_(vcpu), mem_(mem), traces_(traces), ports_(ports), mmio_(mmio) {}

void MonitorEnv::tlb_flush() {
  for (TlbEntry& e : tlb_) e.valid = false;
  tlb_state_ = paging_state();
}

bool MonitorEnv::tlb_lookup(uint32_t la, bool write, bool user, GuestPhysAddr& pa) {
  const mmu::GuestPagingState now = paging_state();
  // Paging state changed behind the hooks (state restore, a task switch's CR3): start over.
  if (now.cr0 != tlb_state_.cr0 || now.cr3 != tlb_state_.cr3 || now.cr4 != tlb_state_.cr4) tlb_flush();
  const TlbEntry& e = tlb_[(la >> kPageShift) % kTlbEntries];
  if (!e.valid || e.vpn != la >> kPageShift) return false;
  mmu::Translation t;
  t.writable = e.writable;
  t.user = e.user;
  const mmu::Access access{write ? mmu::AccessKind::kWrite : mmu::AccessKind::kRead, user};
  // A write through a clean entry walks again, as hardware does, to set D (SDM vol. 3A 4.8).
  if (!mmu::access_allowed(t, access, now.cr0 & mmu::kCr0Wp) || (write && !e.dirty)) return false;
  pa = GuestPhysAddr((uint64_t(e.ppn) << kPageShift) | (la & (kPageSize - 1)));
  return true;
}

std::optional<GuestException> MonitorEnv::translate(uint32_t la, bool write, bool user, GuestPhysAddr& pa) {
  if (tlb_lookup(la, write, user, pa)) {
    c_tlb_hits.inc();
    return std::nullopt;
  }
  c_walks.inc();
  mmu::Access access{write ? mmu::AccessKind::kWrite : mmu::AccessKind::kRead, user};
  mmu::WalkResult w = mmu::walk(mem_, paging_state(), LinearAddr(la), access);
  if (!w.ok()) return GuestException{kPf, true, w.fault->error_code, w.fault->cr2.value};
  pa = w.translation.phys;
  const mmu::Translation& t = w.translation;
  tlb_[(la >> kPageShift) % kTlbEntries] = {la >> kPageShift, uint32_t(t.phys.value >> kPageShift), true,
                                           t.writable, t.user, t.dirty};
  return std::nullopt;
}

// An access is split at page boundaries and each piece translated before any byte moves, so a
// fault on the second page leaves memory untouched (an instruction either completes or faults).
std::optional<GuestException> MonitorEnv::read_linear(uint32_t la, void* dst, unsigned size, bool user) {
  c_reads.inc();
  auto* out = static_cast<uint8_t*>(dst);
  GuestPhysAddr pa[2];
  unsigned first = std::min<unsigned>(size, static_cast<unsigned>(kPageSize - (la & (kPageSize - 1))));
  if (auto e = translate(la, false, user, pa[0])) return e;
  if (first < size)
    if (auto e = translate(la + first, false, user, pa[1])) return e;
  for (int piece = 0; piece < 2; ++piece) {
    unsigned off = piece ? first : 0, len = piece ? size - first : first;
    if (!len) continue;
    if (!mem_.read(pa[piece], out + off, len)) {
      c_mmio.inc();
      for (unsigned i = 0; i < len; ++i) out[off + i] = static_cast<uint8_t>(mmio_.read(pa[piece].value + i, 1));
    }
  }
  return std::nullopt;
}

std::optional<GuestException> MonitorEnv::write_linear(uint32_t la, const void* src, unsigned size, bool user) {
  c_writes.inc();
  auto* in = static_cast<const uint8_t*>(src);
  GuestPhysAddr pa[2];
  unsigned first = std::min<unsigned>(size, static_cast<unsigned>(kPageSize - (la & (kPageSize - 1))));
  if (auto e = translate(la, true, user, pa[0])) return e;
  if (first < size)
    if (auto e = translate(la + first, true, user, pa[1])) return e;
  for (int piece = 0; piece < 2; ++piece) {
    unsigned off = piece ? first : 0, len = piece ? size - first : first;
    if (!len) continue;
    if (mem_.write(pa[piece], in + off, len)) {
      traces_.report_physical_write(pa[piece], len);
    } else {
      c_mmio.inc();
      for (unsigned i = 0; i < len; ++i) mmio_.write(pa[piece].value + i, 1, in[off + i]);
    }
  }
  return std::nullopt;
}

uint8_t* MonitorEnv::ram_run(uint32_t la, unsigned len, bool write, bool user, GuestPhysAddr& pa) {
  if (len == 0 || (la & (kPageSize - 1)) + len > kPageSize) return nullptr;
  if (translate(la, write, user, pa)) return nullptr;
  return mem_.contains(pa, len) ? mem_.host_ptr(pa) : nullptr;
}

// The source is translated first, as the first element reads it before it writes: a refused
// destination then leaves only the accessed bits hardware would also have set.
bool MonitorEnv::copy_linear(uint32_t dst, uint32_t src, unsigned len, bool user) {
  GuestPhysAddr spa, dpa;
  const uint8_t* s = ram_run(src, len, false, user, spa);
  if (!s) return false;
  uint8_t* d = ram_run(dst, len, true, user, dpa);
  // Two linear pages may alias one frame: overlapping bytes must go element by element, in order.
  if (!d || (d < s + len && s < d + len)) return false;
  std::memcpy(d, s, len);
  traces_.report_physical_write(dpa, len);
  c_string_runs.inc();
  c_string_bytes.inc(len);
  return true;
}

bool MonitorEnv::fill_linear(uint32_t dst, uint32_t pattern, unsigned pattern_size, unsigned len, bool user) {
  GuestPhysAddr dpa;
  uint8_t* d = ram_run(dst, len, true, user, dpa);
  if (!d) return false;
  if (pattern_size == 1 || pattern == 0) {
    std::memset(d, static_cast<int>(pattern & 0xff), len);
  } else {
    for (unsigned i = 0; i < len; ++i) d[i] = static_cast<uint8_t>(pattern >> (8 * (i % pattern_size)));
  }
  traces_.report_physical_write(dpa, len);
  c_string_runs.inc();
  c_string_bytes.inc(len);
  return true;
}

uint32_t MonitorEnv::io_read(uint16_t port, unsigned size) { return ports_.read(port, size); }
void MonitorEnv::io_write(uint16_t port, unsigned size, uint32_t value) { ports_.write(port, size, value); }

void MonitorEnv::paging_changed(PagingEvent what, uint32_t addr) {
  tlb_flush();
  if (paging_hook_) paging_hook_(what, addr);
}

uint64_t MonitorEnv::host_tsc() { return __rdtsc(); }

uint32_t MonitorEnv::tsc_khz() { return host_tsc_khz(); }

bool MonitorEnv::tsc_invariant() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(0x80000000, &eax, &ebx, &ecx, &edx) || eax < 0x80000007) return false;
  __get_cpuid(0x80000007, &eax, &ebx, &ecx, &edx);
  return edx & (1u << 8);
}

namespace {

struct ClockSample {
  uint64_t tsc = 0, ns = 0;
};

uint64_t monotonic_now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

// One (TSC, clock) pair: the clock read bracketed by two TSC reads, keeping the narrowest bracket
// of several tries, so a preemption between the reads cannot skew the pair.
ClockSample sample_clock() {
  ClockSample best;
  uint64_t best_width = UINT64_MAX;
  for (int i = 0; i < 16; ++i) {
    const uint64_t t0 = __rdtsc();
    const uint64_t ns = monotonic_now_ns();
    const uint64_t t1 = __rdtsc();
    if (t1 - t0 < best_width) {
      best_width = t1 - t0;
      best = {t0 + (t1 - t0) / 2, ns};
    }
  }
  return best;
}

uint32_t measure_tsc_khz() {
  const ClockSample a = sample_clock();
  // 25 ms: a bracket of even 1 us at each end stays under 100 ppm; typical brackets (tens of ns)
  // give a few ppm, far better than the 500 ppm Linux accepts from its fast PIT calibration.
  timespec pause{0, 25000000};
  while (nanosleep(&pause, &pause) != 0) {
  }
  const ClockSample b = sample_clock();
  const uint64_t ns = b.ns - a.ns;
  return uint32_t(((unsigned __int128)(b.tsc - a.tsc) * 1000000u + ns / 2) / ns);
}

}  // namespace

uint64_t host_arch_capabilities_from(const std::string& dir) {
  auto not_affected = [&](const char* name) {
    std::ifstream f(dir + "/" + name);
    std::string verdict;
    return std::getline(f, verdict) && verdict == "Not affected";
  };
  // Bit numbers: SDM vol. 4 table 2-2 (IA32_ARCH_CAPABILITIES).
  uint64_t caps = 0;
  if (not_affected("mds")) caps |= 1ull << 5;                 // MDS_NO
  if (not_affected("itlb_multihit")) caps |= 1ull << 6;       // PSCHANGE_MC_NO
  if (not_affected("tsx_async_abort")) caps |= 1ull << 8;     // TAA_NO
  if (not_affected("mmio_stale_data")) caps |= 7ull << 13;    // SBDR_SSDP_NO, FBSDP_NO, PSDP_NO
  if (not_affected("gather_data_sampling")) caps |= 1ull << 26;    // GDS_NO
  if (not_affected("reg_file_data_sampling")) caps |= 1ull << 27;  // RFDS_NO
  return caps;
}

uint64_t host_arch_capabilities() {
  static const uint64_t caps = host_arch_capabilities_from("/sys/devices/system/cpu/vulnerabilities");
  return caps;
}

uint64_t MonitorEnv::arch_capabilities() { return host_arch_capabilities(); }

uint32_t host_tsc_khz() {
  static const uint32_t khz = measure_tsc_khz();
  return khz;
}

}  // namespace btvmm::runtime
