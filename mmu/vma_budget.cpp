// A VMA budget shared by shadows: sums their estimates and flushes them, the requester first,
// when an addition would not fit.
#include "mmu/vma_budget.h"

#include <algorithm>

#include "core/stats.h"
#include "mmu/shadow_mmu.h"

namespace btvmm::mmu {
namespace {

stats::Counter c_budget{"shadow.vma_budget", "host VMAs the shadows of this process may hold together (compare shadow.vmas)"};

}  // namespace

VmaBudget::VmaBudget(uint32_t limit) : limit_(limit) { c_budget.set(limit); }

uint32_t VmaBudget::used() const {
  uint32_t n = 0;
  for (const ShadowMmu* s : members_) n += s->vma_estimate();
  return n;
}

void VmaBudget::make_room(ShadowMmu& requester, uint32_t more) {
  requester.flush();
  for (ShadowMmu* s : members_) {
    if (fits(more)) return;
    if (s != &requester) s->flush();
  }
}

void VmaBudget::leave(ShadowMmu* s) { members_.erase(std::remove(members_.begin(), members_.end(), s), members_.end()); }

}  // namespace btvmm::mmu
