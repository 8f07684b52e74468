// The host VMAs that the shadows of one process may hold together. vm.max_map_count bounds the
// whole process, not each window, so shadows that share the process share one budget: the user
// window of a program with a large scattered working set may use what the supervisor window does
// not. Bookkeeping only: never maps anything and never reads the host's limits (host/ does).
#pragma once

#include <cstdint>
#include <vector>

namespace btvmm::mmu {

class ShadowMmu;

class VmaBudget {
 public:
  explicit VmaBudget(uint32_t limit);
  VmaBudget(const VmaBudget&) = delete;
  VmaBudget& operator=(const VmaBudget&) = delete;

  uint32_t limit() const { return limit_; }
  // What the members hold now (the sum of their ShadowMmu::vma_estimate()).
  uint32_t used() const;
  bool fits(uint32_t more) const { return used() + more <= limit_; }
  // Makes room for `more` VMAs on behalf of `requester`: flushes it first (its own mappings are
  // what it is about to replace), then the other members, until the addition fits.
  void make_room(ShadowMmu& requester, uint32_t more);

 private:
  friend class ShadowMmu;  // members join and leave with their own lifetime
  void join(ShadowMmu* s) { members_.push_back(s); }
  void leave(ShadowMmu* s);

  uint32_t limit_;
  std::vector<ShadowMmu*> members_;
};

}  // namespace btvmm::mmu
