// Trace bookkeeping per guest-physical page. Never calls into the shadow: the callbacks are the
// only way out, and they are the registrants' business.
#include "mmu/write_traces.h"

namespace btvmm::mmu {

bool WriteTraces::add(Ppn page, TraceKind kind) {
  State& s = pages_[page.value];
  const bool was_traced = s.table_refs || s.code;
  if (kind == TraceKind::kPageTable)
    ++s.table_refs;
  else
    s.code = true;
  return !was_traced;
}

void WriteTraces::remove(Ppn page, TraceKind kind) {
  auto it = pages_.find(page.value);
  if (it == pages_.end()) return;
  State& s = it->second;
  if (kind == TraceKind::kPageTable) {
    if (s.table_refs) --s.table_refs;
  } else {
    s.code = false;
  }
  if (!s.table_refs && !s.code) pages_.erase(it);
}

void WriteTraces::clear(TraceKind kind) {
  for (auto it = pages_.begin(); it != pages_.end();) {
    if (kind == TraceKind::kPageTable)
      it->second.table_refs = 0;
    else
      it->second.code = false;
    if (!it->second.table_refs && !it->second.code)
      it = pages_.erase(it);
    else
      ++it;
  }
}

uint8_t WriteTraces::kinds(Ppn page) const {
  auto it = pages_.find(page.value);
  if (it == pages_.end()) return 0;
  return (it->second.table_refs ? bit(TraceKind::kPageTable) : 0) | (it->second.code ? bit(TraceKind::kCode) : 0);
}

void WriteTraces::fire(Ppn page, uint32_t offset, uint8_t kinds) const {
  for (const auto& [kind, cb] : callbacks_)
    if (kinds & bit(kind)) cb(page, offset);
}

}  // namespace btvmm::mmu
