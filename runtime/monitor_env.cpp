// CpuEnv over the real machine (see monitor_env.h); also measures the host TSC rate for CPUID.
// Never reaches guest memory except through GuestMemory, the write traces and the buses.
#include "runtime/monitor_env.h"

#include <cpuid.h>
#include <time.h>
#include <x86intrin.h>

#include <algorithm>
#include <cstring>

#include "core/stats.h"

namespace btvmm::runtime {

namespace {
stats::Counter c_reads{"monitor.linear_reads", "guest linear reads done by the monitor (emulation)"};
stats::Counter c_writes{"monitor.linear_writes", "guest linear writes done by the monitor (emulation)"};
stats::Counter c_mmio{"monitor.mmio_accesses", "monitor accesses that reached the MMIO bus"};
}  // namespace

MonitorEnv::MonitorEnv(VcpuState& vcpu, mmu::GuestMemory& mem, mmu::WriteTraces& traces, devices::PortBus& ports,
                       devices::MmioBus& mmio)
    : vcpu_(vcpu), mem_(mem), traces_(traces), ports_(ports), mmio_(mmio) {}

std::optional<GuestException> MonitorEnv::translate(uint32_t la, bool write, bool user, GuestPhysAddr& pa) {
  mmu::Access access{write ? mmu::AccessKind::kWrite : mmu::AccessKind::kRead, user};
  mmu::WalkResult w = mmu::walk(mem_, paging_state(), LinearAddr(la), access);
  if (!w.ok()) return GuestException{kPf, true, w.fault->error_code, w.fault->cr2.value};
  pa = w.translation.phys;
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

uint32_t MonitorEnv::io_read(uint16_t port, unsigned size) { return ports_.read(port, size); }
void MonitorEnv::io_write(uint16_t port, unsigned size, uint32_t value) { ports_.write(port, size, value); }

void MonitorEnv::paging_changed(PagingEvent what, uint32_t addr) {
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

uint32_t host_tsc_khz() {
  static const uint32_t khz = measure_tsc_khz();
  return khz;
}

}  // namespace btvmm::runtime
