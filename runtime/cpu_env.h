// What the CPU-semantics code (exception delivery, far transfers, privileged instructions)
// needs from the rest of the monitor, as an interface so it can be unit-tested with fakes and
// shared by every execution engine (translated code, direct execution). Implemented in
// runtime/ over the mmu (paging, shadow) and devices (port bus, PIC).
#pragma once

#include <cstdint>
#include <optional>

#include "runtime/vcpu_state.h"

namespace btvmm::runtime {

// A guest exception or interrupt to deliver through the IDT (SDM vol. 3 6.3-6.5).
struct GuestException {
  uint8_t vector = 0;
  bool has_error_code = false;
  uint32_t error_code = 0;
  uint32_t cr2 = 0;  // for #PF (vector 14) only
};

// Vectors (SDM vol. 3 table 6-1). #SS is kSsFault: kSs is already the SS segment register (vcpu_state.h).
enum Vector : uint8_t {
  kDe = 0, kDb = 1, kNmi = 2, kBp = 3, kOf = 4, kBr = 5, kUd = 6, kNm = 7, kDf = 8, kTs = 10,
  kNp = 11, kSsFault = 12, kGp = 13, kPf = 14, kMf = 16, kAc = 17, kMc = 18, kXm = 19,
};

inline GuestException gp(uint32_t error_code = 0) { return {kGp, true, error_code, 0}; }
inline GuestException ud() { return {kUd, false, 0, 0}; }

// Which paging-related state changed, so the shadow MMU can drop what it must.
enum class PagingEvent { kCr0, kCr3, kCr4, kInvlpg };

class CpuEnv {
 public:
  virtual ~CpuEnv() = default;
  // Guest linear memory through the guest's paging (A/D bits updated like hardware).
  // `user` is true for CPL 3 data accesses; implicit supervisor accesses (descriptor tables,
  // TSS, IDT, the stack switch of an interrupt) pass false at any CPL (SDM vol. 3 4.6).
  // On failure the returned exception is the #PF to deliver (with cr2 and error code).
  virtual std::optional<GuestException> read_linear(uint32_t la, void* dst, unsigned size, bool user) = 0;
  virtual std::optional<GuestException> write_linear(uint32_t la, const void* src, unsigned size, bool user) = 0;
  // A run of REP MOVS/STOS elements, [dst, dst + len) and [src, src + len) each inside one page,
  // done as one access: true when done; false when nothing was done because some byte is not
  // plain guest RAM, the paging refuses, or source and destination share bytes. The caller then
  // moves the run element by element, which raises the exact fault at the exact element. Both
  // default to false, so an environment without them is always exact, only slower.
  virtual bool copy_linear(uint32_t /*dst*/, uint32_t /*src*/, unsigned /*len*/, bool /*user*/) { return false; }
  // Fills [dst, dst + len) with the `pattern_size`-byte little-endian `pattern` (STOS).
  virtual bool fill_linear(uint32_t /*dst*/, uint32_t /*pattern*/, unsigned /*pattern_size*/, unsigned /*len*/,
                           bool /*user*/) {
    return false;
  }
  virtual uint32_t io_read(uint16_t port, unsigned size) = 0;
  virtual void io_write(uint16_t port, unsigned size, uint32_t value) = 0;
  // The guest changed CR0/CR3/CR4 or executed INVLPG (addr is the linear address for INVLPG).
  virtual void paging_changed(PagingEvent what, uint32_t addr) = 0;
  // Host TSC as the guest sees it before tsc_offset (rdtsc).
  virtual uint64_t host_tsc() = 0;
  // Rate of host_tsc() in kHz, or 0 if this environment does not know it; CPUID leaves 0x15/0x16
  // report it (0: "ratio not enumerated", SDM vol. 2 CPUID leaf 15H). Constant for an env's life.
  virtual uint32_t tsc_khz() { return 0; }
  // Whether host_tsc() runs at a constant rate, also in deep sleep states (an invariant TSC,
  // SDM vol. 3 17.17.1); CPUID.80000007H:EDX[8] reports it. Constant for an env's life.
  virtual bool tsc_invariant() { return false; }
  // IA32_ARCH_CAPABILITIES for the guest (SDM vol. 4 table 2-2), or 0 for "no such MSR": only
  // "not affected" bits (MDS_NO, TAA_NO, ...) that hold on the host the guest really runs on, so
  // the guest skips mitigations (VERW on every return to user) that protect against nothing here.
  virtual uint64_t arch_capabilities() { return 0; }
};

}  // namespace btvmm::runtime
