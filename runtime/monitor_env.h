// The real machine behind runtime::CpuEnv: guest linear memory through the guest's own page
// tables (mmu/paging.h, A/D bits exact), emulated writes reported to the write traces so shadow
// mappings and translations stay coherent, port I/O to the device bus, the host TSC.
// Never touches host memory except through GuestMemory and the bus.
#pragma once

#include <functional>
#include <string>

#include "devices/bus.h"
#include "mmu/machine_memory.h"
#include "mmu/paging.h"
#include "mmu/write_traces.h"
#include "runtime/cpu_env.h"
#include "runtime/vcpu_state.h"

namespace btvmm::runtime {

// Host TSC frequency in kHz, measured once per process against CLOCK_MONOTONIC, the clock the
// devices (PIT, RTC) run on, so guest TSC and guest timers agree. Assumes an invariant host TSC
// (constant_tsc, nonstop_tsc), as on every x86-64 host btvmm targets. Blocks ~25 ms on first use.
uint32_t host_tsc_khz();

// The IA32_ARCH_CAPABILITIES "not affected" bits that are true of this host, read once from the
// host kernel's verdicts in /sys/devices/system/cpu/vulnerabilities (the way KVM derives a guest's
// from its host's bugs): MDS_NO, PSCHANGE_MC_NO, TAA_NO, SBDR_SSDP_NO/FBSDP_NO/PSDP_NO, GDS_NO,
// RFDS_NO. 0 when none is known (no sysfs: the guest then assumes the worst, as before).
uint64_t host_arch_capabilities();
// The same from a directory laid out like that one (tests use a made-up one).
uint64_t host_arch_capabilities_from(const std::string& dir);

class MonitorEnv : public CpuEnv {
 public:
  using PagingHook = std::function<void(PagingEvent, uint32_t)>;

  MonitorEnv(VcpuState& vcpu, mmu::GuestMemory& mem, mmu::WriteTraces& traces, devices::PortBus& ports,
             devices::MmioBus& mmio);

  // Who must hear about CR0/CR3/CR4 loads and INVLPG (the shadow MMUs); set by the engine.
  void set_paging_hook(PagingHook hook) { paging_hook_ = std::move(hook); }

  std::optional<GuestException> read_linear(uint32_t la, void* dst, unsigned size, bool user) override;
  std::optional<GuestException> write_linear(uint32_t la, const void* src, unsigned size, bool user) override;
  bool copy_linear(uint32_t dst, uint32_t src, unsigned len, bool user) override;
  bool fill_linear(uint32_t dst, uint32_t pattern, unsigned pattern_size, unsigned len, bool user) override;
  uint32_t io_read(uint16_t port, unsigned size) override;
  void io_write(uint16_t port, unsigned size, uint32_t value) override;
  void paging_changed(PagingEvent what, uint32_t addr) override;
  uint64_t host_tsc() override;
  // The host TSC rate, measured once per process (host_tsc_khz()).
  uint32_t tsc_khz() override;
  // The host's own CPUID.80000007H:EDX[8]: the guest TSC is the host TSC, so it is invariant
  // exactly when the host's is.
  bool tsc_invariant() override;
  // host_arch_capabilities().
  uint64_t arch_capabilities() override;

  mmu::GuestPagingState paging_state() const { return {vcpu_.cr0, vcpu_.cr3, vcpu_.cr4}; }

 private:
  // Translates one page-bounded piece; on success yields the guest-physical address.
  std::optional<GuestException> translate(uint32_t la, bool write, bool user, GuestPhysAddr& pa);
  // Host bytes of [la, la + len) (inside one page) when the paging allows the access and the page
  // is guest RAM; nullptr otherwise (no fault is raised: the caller falls back).
  uint8_t* ram_run(uint32_t la, unsigned len, bool write, bool user, GuestPhysAddr& pa);

  // A software TLB of the monitor's own walks (exception delivery, iret, descriptor loads,
  // emulated accesses do several per exit). It caches exactly what a processor TLB may (SDM vol.
  // 3A 4.10.2): successful translations with their effective rights and D bit, so a hit never
  // skips a fault or an A/D update a walk would make. Emptied on every CR0/CR3/CR4 load and
  // INVLPG, as hardware's is; guest page-table writes without INVLPG stay unseen, as on hardware.
  struct TlbEntry {
    uint32_t vpn = 0;
    uint32_t ppn = 0;
    bool valid = false, writable = false, user = false, dirty = false;
  };
  static constexpr unsigned kTlbEntries = 64;
  bool tlb_lookup(uint32_t la, bool write, bool user, GuestPhysAddr& pa);
  void tlb_flush();

  VcpuState& vcpu_;
  TlbEntry tlb_[kTlbEntries];
  mmu::GuestPagingState tlb_state_{};  // the CR0/CR3/CR4 the entries were made under
  mmu::GuestMemory& mem_;
  mmu::WriteTraces& traces_;
  devices::PortBus& ports_;
  devices::MmioBus& mmio_;
  PagingHook paging_hook_;
};

}  // namespace btvmm::runtime
