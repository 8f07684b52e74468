// The guest's view of IA-32 32-bit paging (Intel SDM vol. 3A 4.3, 4.6, 4.7, 4.8): the control
// register bits that matter, and a page walker over guest physical memory that yields either a
// translation (plus what a shadow MMU needs to know about it) or the exact guest #PF.
// Never throws on guest data and never touches memory except through GuestMemory.
#pragma once

#include <cstdint>
#include <optional>

#include "core/types.h"
#include "mmu/machine_memory.h"

namespace btvmm::mmu {

// Control-register bits (SDM vol. 3A 2.5).
inline constexpr uint32_t kCr0Pe = 1u << 0;
inline constexpr uint32_t kCr0Wp = 1u << 16;
inline constexpr uint32_t kCr0Pg = 1u << 31;
inline constexpr uint32_t kCr4Pse = 1u << 4;
inline constexpr uint32_t kCr4Pge = 1u << 7;

// Paging-structure entry bits, 32-bit paging (SDM vol. 3A 4.3, tables 4-4 to 4-6).
inline constexpr uint32_t kPtePresent = 1u << 0;
inline constexpr uint32_t kPteWritable = 1u << 1;
inline constexpr uint32_t kPteUser = 1u << 2;
inline constexpr uint32_t kPteAccessed = 1u << 5;
inline constexpr uint32_t kPteDirty = 1u << 6;
inline constexpr uint32_t kPdeLargePage = 1u << 7;
inline constexpr uint32_t kPteGlobal = 1u << 8;
inline constexpr uint32_t kPteFrameMask = 0xFFFFF000u;
inline constexpr uint32_t kPdeLargeFrameMask = 0xFFC00000u;
// A 4 MiB PDE holds physical address bits 39:32 in bits 20:13 (PSE-36) and must keep bit 21
// clear. btvmm's virtual CPU reports neither PSE-36 nor PAE, so MAXPHYADDR is 32 and bits 21:13
// are all reserved (SDM vol. 3A 4.3, figure 4-4 note 2: the reserved span depends on MAXPHYADDR).
inline constexpr uint32_t kPdeLargeReservedMask = 0x003FE000u;

// Page-fault error code bits (SDM vol. 3A 4.7, figure 4-12). I/D (bit 4) is only ever set with
// PAE+NXE or SMEP, neither of which this CPU model offers, so it is never produced here.
inline constexpr uint32_t kPfPresent = 1u << 0;
inline constexpr uint32_t kPfWrite = 1u << 1;
inline constexpr uint32_t kPfUser = 1u << 2;
inline constexpr uint32_t kPfReserved = 1u << 3;

// CR0, CR3 and CR4 as the guest last loaded them. CR4.PAE is not modelled: the CPU model does not
// report PAE, so the runtime refuses to set it (#GP), and the walker never sees it.
struct GuestPagingState {
  uint32_t cr0 = 0;
  uint32_t cr3 = 0;
  uint32_t cr4 = 0;

  // Paging needs protected mode: CR0.PG=1 with PE=0 is rejected with #GP on the MOV to CR0.
  bool paging() const { return (cr0 & kCr0Pg) && (cr0 & kCr0Pe); }
  bool write_protect() const { return cr0 & kCr0Wp; }
  bool pse() const { return cr4 & kCr4Pse; }
  bool pge() const { return cr4 & kCr4Pge; }
  // CR3 bits 31:12; PWT/PCD (bits 3, 4) only select a memory type (SDM vol. 3A table 4-3).
  GuestPhysAddr page_directory() const { return GuestPhysAddr(cr3 & kPteFrameMask); }
};

enum class AccessKind : uint8_t { kRead, kWrite, kFetch };

// One memory access as paging judges it (SDM vol. 3A 4.6): user-mode means CPL 3 and not an
// implicit supervisor access (descriptor tables, TSS, ...), which are supervisor-mode at any CPL.
struct Access {
  AccessKind kind = AccessKind::kRead;
  bool user = false;

  static constexpr Access at_cpl(AccessKind k, unsigned cpl) { return Access{k, cpl == 3}; }
  static constexpr Access implicit_supervisor(AccessKind k) { return Access{k, false}; }
  bool write() const { return kind == AccessKind::kWrite; }
};

struct PageFault {
  LinearAddr cr2;
  uint32_t error_code = 0;
};

enum class PageSize : uint8_t {
  kNone,  // paging off: linear = physical
  k4K,
  k4M,
};

// A successful translation and what a shadow MMU needs to mirror it.
struct Translation {
  GuestPhysAddr phys;  // of the byte addressed
  PageSize size = PageSize::kNone;
  // Effective rights: R/W and U/S ANDed over every level (SDM vol. 3A 4.6.1). True with paging off.
  bool writable = true;
  bool user = true;
  // D of the final entry after this walk (true with paging off: nothing to track).
  bool dirty = true;
  bool global = false;
  // Guest-physical addresses and values of the entries used (the page tables a shadow must
  // write-protect); a PTE only for 4 KiB pages. Entries outside guest RAM read as all ones.
  std::optional<GuestPhysAddr> pde_addr;
  std::optional<GuestPhysAddr> pte_addr;
  uint32_t pde = 0;
  uint32_t pte = 0;

  GuestPhysAddr page() const { return GuestPhysAddr(phys.value & ~(kPageSize - 1)); }
  // True when every entry used has its accessed flag set already (a translation hardware could
  // have cached without writing to memory; SDM vol. 3A 4.10.2).
  bool accessed() const;
};

struct WalkResult {
  Translation translation;         // meaningful only when !fault
  std::optional<PageFault> fault;  // the #PF to deliver, with CR2 and the error code

  bool ok() const { return !fault.has_value(); }
};

enum class WalkMode : uint8_t {
  kAccess,  // a real access: sets A and D like the processor (SDM vol. 3A 4.8)
  kProbe,   // look only (debugger reads, shadow prefetch): never writes guest memory
};

// Translates `la` for `access`. With kAccess and a successful translation, sets A in every entry
// used and, for writes, D in the final entry, each only if not already set. A walk that faults
// writes nothing: SDM 4.8 sets A on entries "used as part of linear-address translation", and a
// walk that faults produces no translation (SDM 4.7); Bochs models it the same way.
WalkResult walk(GuestMemory& mem, const GuestPagingState& state, LinearAddr la, Access access,
                WalkMode mode = WalkMode::kAccess);

// Whether a translation's effective rights allow `access` (SDM vol. 3A 4.6: supervisor reads and
// fetches always; supervisor writes need R/W everywhere only with CR0.WP=1; user accesses need
// U/S everywhere and, for writes, R/W everywhere whatever CR0.WP says).
bool access_allowed(const Translation& t, Access access, bool cr0_wp);

}  // namespace btvmm::mmu
