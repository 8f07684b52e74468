// The engine's side of the TC event trace (`-d tc`, `--trace-tc FILE`; issue 5): turns what the
// dispatcher did to CCFs besides translating them (retranslation, invalidation, stale marking, the
// re-check at next entry, whole-TC flush) into translator::TcEvent for the trace hook, which formats
// them with translator/trace_dump. Reporting only: never changes the TC; one test when unhooked.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/cpu_env.h"
#include "runtime/vcpu_state.h"
#include "translator/ccf.h"
#include "translator/trace_dump.h"

namespace btvmm::runtime::engine {

using TcEventFn = std::function<void(const translator::TcEvent&)>;

class TcEvents {
 public:
  void set(TcEventFn fn) { fn_ = std::move(fn); }

  // `eip` took `traps` traced-write traps; `dropped` is the CCF invalidated for it (or null).
  void retranslation(uint32_t eip, uint64_t traps, const translator::Ccf* dropped) {
    if (!fn_) return;
    const translator::Ccf* one[1] = {dropped};
    translator::TcEvent e;
    e.kind = translator::TcEvent::Kind::kRetranslation;
    e.addr = eip;
    e.traps = traps;
    e.ccfs = {one, dropped ? 1u : 0u};
    fn_(e);
  }

  // A write to guest-physical page `ppn` invalidated `dead`.
  void invalidation(uint32_t ppn, std::span<translator::Ccf* const> dead) {
    if (!fn_ || dead.empty()) return;
    const std::vector<const translator::Ccf*> v(dead.begin(), dead.end());
    translator::TcEvent e;
    e.kind = translator::TcEvent::Kind::kInvalidation;
    e.page = ppn;
    e.ccfs = v;
    fn_(e);
  }

  // For each CCF a paging change cuts; then stale() reports them all as one event.
  void stale_ccf(const translator::Ccf& c) {
    if (fn_) stale_.push_back(&c);
  }
  // The paging change `what` (INVLPG of `addr`, or a CR0/CR3/CR4 load, shown with its new value).
  void stale(PagingEvent what, uint32_t addr, const VcpuState& vcpu) {
    if (!fn_ || stale_.empty()) return;
    translator::TcEvent e;
    e.kind = translator::TcEvent::Kind::kStale;
    switch (what) {
      case PagingEvent::kInvlpg: e.reason = "invlpg"; e.addr = addr; break;
      case PagingEvent::kCr0: e.reason = "cr0 load"; e.addr = vcpu.cr0; break;
      case PagingEvent::kCr3: e.reason = "cr3 load"; e.addr = vcpu.cr3; break;
      case PagingEvent::kCr4: e.reason = "cr4 load"; e.addr = vcpu.cr4; break;
    }
    e.ccfs = stale_;
    fn_(e);
    stale_.clear();
  }

  // A stale CCF was re-checked at its next entry: `kept` when its code had not moved.
  void revalidation(const translator::Ccf& c, bool kept) {
    if (!fn_) return;
    const translator::Ccf* one[1] = {&c};
    translator::TcEvent e;
    e.kind = translator::TcEvent::Kind::kRevalidation;
    e.addr = c.key.eip;
    e.kept = kept;
    e.ccfs = one;
    fn_(e);
  }

  // The whole TC is about to be emptied while the dispatcher is at guest `eip`: `ccfs` live CCFs,
  // `used` of `size` TC bytes.
  void flush(std::string_view reason, uint32_t eip, uint64_t ccfs, uint64_t used, uint64_t size) {
    if (!fn_) return;
    translator::TcEvent e;
    e.kind = translator::TcEvent::Kind::kFlush;
    e.addr = eip;
    e.count = ccfs;
    e.bytes = used;
    e.total = size;
    e.reason = reason;
    fn_(e);
  }

 private:
  TcEventFn fn_;
  std::vector<const translator::Ccf*> stale_;
};

}  // namespace btvmm::runtime::engine
