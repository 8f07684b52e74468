// Direct execution of guest CPL-3 code (DESIGN.md 3, 3a): run_user() enters the guest in its
// stub process with the vCPU's registers and segments and returns the next exit as a guest
// event. It owns the stub and its StubMapper (give that mapper to the kUser ShadowMmu).
// Never runs guest code in the monitor's process and never delivers events itself: the caller
// delivers them through the guest IDT (runtime/cpu/interrupts.h).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>

#include "mmu/shadow_mmu.h"
#include "runtime/direct/stub_mapper.h"
#include "runtime/direct/stub_process.h"
#include "runtime/direct/user_exit.h"
#include "runtime/vcpu_state.h"

namespace btvmm::direct {

struct DirectConfig {
  // The stub binary; empty means the one this build produced (BTVMM_DIRECT_STUB_PATH).
  std::string stub_path;
  // First supervisor-only linear address for segment truncation (e.g. 0xC0000000 for Linux's
  // 3G/1G split); 0 leaves limits as the guest set them. See segment_mirror.h.
  uint32_t user_split = 0;
  // Enter guest code with the host's 64-bit code selector (0x33) instead of a compat-mode one.
  // Not IA-32 semantics: only for testing the stub's plumbing and confinement on hosts that
  // cannot run compat-mode code at all (host_runs_compat_code() is false). Segment limits do
  // not apply in 64-bit mode; bases of FS/GS do.
  bool long_mode_for_tests = false;
};

// Whether this host executes 32-bit (compat-mode) user code. A Linux with IA-32 emulation off
// (ia32_emulation=0, or a PVM guest kernel: "pvm-pv: IA-32 emulation off") refuses every far
// transfer to a 32-bit code segment with #GP(selector); then direct execution is impossible.
// Probed once, with a stub, and cached.
bool host_runs_compat_code();

// Path of the stub binary built with this tree.
std::string default_stub_path();

class DirectExecutor {
 public:
  DirectExecutor(mmu::GuestMemory& mem, DirectConfig config = {});

  StubMapper& mapper() { return mapper_; }
  StubProcess& stub() { return stub_; }

  // Runs guest user code from vcpu (CPL 3, protected mode) until the next exit; vcpu holds the
  // guest state at the exit (GPRs, EIP as UserExit defines it, arithmetic flags, selectors).
  UserExit run_user(runtime::VcpuState& vcpu);

  // Periodic host timer that ends direct execution (UserExit::kInterrupt); 0 disarms it.
  void set_timer_period_us(uint32_t us);
  // Ends direct execution soon, from any thread (a pending virtual interrupt).
  void kick() const { stub_.kick(); }

 private:
  void mirror_segments(const runtime::VcpuState& vcpu, std::array<uint16_t, runtime::kSegCount>& host);
  // Returns whether a register held a selector of the host's own GDT (repaired to the guest's
  // descriptor): the guest's accesses through it used the host's segment, not its own.
  bool reconcile_segments(runtime::VcpuState& vcpu, const std::array<uint16_t, runtime::kSegCount>& host,
                          const btvmm_stub_regs& regs);
  uint32_t read_code(const runtime::VcpuState& vcpu, uint32_t eip, uint8_t* dst, uint32_t n);
  std::optional<runtime::SegmentCache> guest_descriptor(const runtime::VcpuState& vcpu, uint16_t selector);

  DirectConfig config_;
  StubProcess stub_;
  StubMapper mapper_;
  // Descriptor last written to each host LDT slot, so unchanged segments cost nothing.
  std::unordered_map<uint32_t, btvmm_user_desc> ldt_;
  mmu::GuestMemory& mem_;
};

// run_user() with hidden page faults resolved through `shadow` (a kUser ShadowMmu over this
// executor's mapper): returns only guest events. A true fault comes back as #PF with the guest's
// CR2 and error code; fills the shadow cannot finish (traced writes, non-RAM, page 0) come back
// as kEmulate.
UserExit run_user_resolving(DirectExecutor& exec, runtime::VcpuState& vcpu, mmu::ShadowMmu& shadow);

}  // namespace btvmm::direct
