// Write traces on guest-physical pages (DESIGN.md 2, 3 "TC coherency"): which pages the monitor
// must see written (page tables the shadow mirrors, pages holding translated code) and who to
// tell when they are. Bookkeeping only: it never maps, protects or writes memory.
#pragma once

#include <cstdint>
#include <functional>
#include <unordered_map>
#include <vector>

#include "core/types.h"

namespace btvmm::mmu {

enum class TraceKind : uint8_t {
  kPageTable = 1 << 0,  // a page directory or page table some shadow mapping was derived from
  kCode = 1 << 1,       // a page holding guest code the translator has translated
};

inline constexpr uint8_t bit(TraceKind k) { return static_cast<uint8_t>(k); }

class WriteTraces {
 public:
  // Called with the guest-physical page and the offset of the first byte written.
  using Callback = std::function<void(Ppn page, uint32_t offset)>;

  void on_write(TraceKind kind, Callback cb) { callbacks_.push_back({kind, std::move(cb)}); }

  // kPageTable traces are counted (one reference per shadow mapping that used the table);
  // kCode traces are on or off. add() returns true when the page was untraced before.
  bool add(Ppn page, TraceKind kind);
  void remove(Ppn page, TraceKind kind);
  // Drops every trace of one kind (all page-table traces go when the shadow is flushed).
  void clear(TraceKind kind);

  // Bit mask of TraceKind values on the page; 0 when untraced.
  uint8_t kinds(Ppn page) const;
  // Runs the callbacks registered for each kind in `kinds`.
  void fire(Ppn page, uint32_t offset, uint8_t kinds) const;

 private:
  struct State {
    uint32_t table_refs = 0;
    bool code = false;
  };
  std::unordered_map<uint32_t, State> pages_;
  std::vector<std::pair<TraceKind, Callback>> callbacks_;
};

}  // namespace btvmm::mmu
