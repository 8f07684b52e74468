// 32-bit paging walker (SDM vol. 3A 4.3) with access rights (4.6), #PF error codes (4.7) and
// accessed/dirty flags (4.8). Never writes guest memory on a faulting walk or in probe mode.
#include "mmu/paging.h"

namespace btvmm::mmu {
namespace {

struct Entry {
  GuestPhysAddr addr;
  uint32_t value = 0;
  bool in_ram = false;
};

// A PC returns all ones for reads of physical addresses nothing decodes (open bus), so an entry
// outside guest RAM reads as 0xFFFFFFFF: present, writable, user, and whatever that implies.
Entry read_entry(const GuestMemory& mem, GuestPhysAddr a) {
  Entry e{a, 0xFFFFFFFFu, false};
  uint32_t v = 0;
  if (mem.read_obj(a, v)) {
    e.value = v;
    e.in_ram = true;
  }
  return e;
}

// Re-reads before writing: the entry may be the same word as one updated a moment ago (a page
// directory mapped through itself), and the update must not resurrect a stale value.
void set_flags(GuestMemory& mem, const Entry& e, uint32_t flags) {
  if (!e.in_ram) return;  // writes to nothing are dropped, as on the bus
  uint32_t now = 0;
  if (!mem.read_obj(e.addr, now) || (now & flags) == flags) return;
  mem.write_obj(e.addr, now | flags);
}

uint32_t access_error_bits(Access a) {
  return (a.write() ? kPfWrite : 0) | (a.user ? kPfUser : 0);
}

WalkResult fault(LinearAddr la, Access a, uint32_t bits) {
  WalkResult r;
  r.fault = PageFault{la, bits | access_error_bits(a)};
  return r;
}

}  // namespace

bool Translation::accessed() const {
  switch (size) {
    case PageSize::kNone: return true;
    case PageSize::k4M: return pde & kPteAccessed;
    case PageSize::k4K: return (pde & kPteAccessed) && (pte & kPteAccessed);
  }
  return false;
}

bool access_allowed(const Translation& t, Access access, bool cr0_wp) {
  if (access.user) {
    if (!t.user) return false;
    return !access.write() || t.writable;
  }
  // No SMEP/SMAP in this CPU model: supervisor reads and fetches of any page are allowed.
  return !access.write() || !cr0_wp || t.writable;
}

WalkResult walk(GuestMemory& mem, const GuestPagingState& state, LinearAddr la, Access access, WalkMode mode) {
  WalkResult r;
  Translation& t = r.translation;
  if (!state.paging()) {
    t.phys = GuestPhysAddr(la.value);
    return r;
  }

  // SDM 4.3: the PDE sits at CR3[31:12] | la[31:22] << 2.
  Entry pde = read_entry(mem, GuestPhysAddr(state.page_directory().value | ((la.value >> 22) << 2)));
  if (!(pde.value & kPtePresent)) return fault(la, access, 0);
  t.pde_addr = pde.addr;
  t.pde = pde.value;

  const bool large = state.pse() && (pde.value & kPdeLargePage);
  Entry pte;
  uint32_t final_value = 0;
  if (large) {
    if (pde.value & kPdeLargeReservedMask) return fault(la, access, kPfPresent | kPfReserved);
    t.size = PageSize::k4M;
    t.phys = GuestPhysAddr((pde.value & kPdeLargeFrameMask) | (la.value & 0x003FFFFFu));
    t.writable = pde.value & kPteWritable;
    t.user = pde.value & kPteUser;
    final_value = pde.value;
  } else {
    // With CR4.PSE=0 bit 7 of a PDE is ignored and the PDE always references a page table.
    pte = read_entry(mem, GuestPhysAddr((pde.value & kPteFrameMask) | (((la.value >> 12) & 0x3FFu) << 2)));
    if (!(pte.value & kPtePresent)) return fault(la, access, 0);
    t.pte_addr = pte.addr;
    t.pte = pte.value;
    t.size = PageSize::k4K;
    t.phys = GuestPhysAddr((pte.value & kPteFrameMask) | (la.value & 0xFFFu));
    t.writable = (pde.value & kPteWritable) && (pte.value & kPteWritable);
    t.user = (pde.value & kPteUser) && (pte.value & kPteUser);
    final_value = pte.value;
  }
  // G is meaningful only in the entry that maps the page, and only with CR4.PGE (SDM 4.10.2.4).
  t.global = state.pge() && (final_value & kPteGlobal);
  t.dirty = final_value & kPteDirty;

  if (!access_allowed(t, access, state.write_protect())) return fault(la, access, kPfPresent);

  if (mode == WalkMode::kAccess) {
    set_flags(mem, pde, kPteAccessed);
    t.pde |= kPteAccessed;
    if (large) {
      if (access.write()) {
        set_flags(mem, pde, kPteDirty);
        t.pde |= kPteDirty;
        t.dirty = true;
      }
    } else {
      const uint32_t flags = kPteAccessed | (access.write() ? kPteDirty : 0);
      set_flags(mem, pte, flags);
      t.pte |= flags;
      if (access.write()) t.dirty = true;
    }
  }
  return r;
}

}  // namespace btvmm::mmu
