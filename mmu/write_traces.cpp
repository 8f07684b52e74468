// Trace bookkeeping per guest-physical page. Holds no iterator across a call out to a listener
// or callback: those may add or remove traces while they run.
#include "mmu/write_traces.h"

#include <algorithm>

namespace btvmm::mmu {

void WriteTraces::unsubscribe(TraceListener* l) {
  listeners_.erase(std::remove(listeners_.begin(), listeners_.end(), l), listeners_.end());
}

void WriteTraces::add(Ppn page, TraceKind kind) {
  State& s = pages_[page.value];
  const bool was_traced = s.table_refs || s.code;
  if (kind == TraceKind::kPageTable)
    ++s.table_refs;
  else
    s.code = true;
  if (!was_traced)
    for (TraceListener* l : std::vector<TraceListener*>(listeners_)) l->page_traced(page);
}

void WriteTraces::remove(Ppn page, TraceKind kind, uint32_t refs) {
  auto it = pages_.find(page.value);
  if (it == pages_.end()) return;
  State& s = it->second;
  if (kind == TraceKind::kPageTable)
    s.table_refs -= std::min(refs, s.table_refs);
  else
    s.code = false;
  if (!s.table_refs && !s.code) pages_.erase(it);
}

uint8_t WriteTraces::kinds(Ppn page) const {
  auto it = pages_.find(page.value);
  if (it == pages_.end()) return 0;
  return (it->second.table_refs ? bit(TraceKind::kPageTable) : 0) | (it->second.code ? bit(TraceKind::kCode) : 0);
}

uint8_t WriteTraces::report_write(Ppn page, uint32_t offset, uint32_t end) {
  const uint8_t k = kinds(page);
  if (k & bit(TraceKind::kPageTable))
    for (TraceListener* l : std::vector<TraceListener*>(listeners_)) l->page_table_written(page, offset, end);
  for (size_t i = 0; i < callbacks_.size(); ++i)
    if (k & bit(callbacks_[i].first)) callbacks_[i].second(page, offset);
  return k;
}

void WriteTraces::report_physical_write(GuestPhysAddr pa, uint64_t len) {
  uint64_t a = pa.value;
  const uint64_t end = pa.value + len;
  while (a < end) {
    const uint64_t page_start = a & ~(kPageSize - 1);
    const uint64_t stop = std::min(end, page_start + kPageSize);
    const Ppn ppn = ppn_of(GuestPhysAddr(a));
    if (kinds(ppn)) report_write(ppn, static_cast<uint32_t>(a - page_start), static_cast<uint32_t>(stop - page_start));
    a = stop;
  }
}

}  // namespace btvmm::mmu
