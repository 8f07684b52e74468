// Write traces on guest-physical pages (DESIGN.md 2, 3 "TC coherency"): which pages the monitor
// must see written (page tables some shadow mirrors, pages holding translated code) and who to
// tell when they are. One per VM, shared by every shadow (the monitor window and any stub), so a
// table traced for one address space is write-protected in all of them. Never maps memory itself.
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

// What a shadow must hear from the registry.
class TraceListener {
 public:
  virtual ~TraceListener() = default;
  // The page just became traced: stop allowing host writes to it.
  virtual void page_traced(Ppn page) = 0;
  // Bytes [offset, end) of a traced page-table page are being written: drop what they derive.
  virtual void page_table_written(Ppn page, uint32_t offset, uint32_t end) = 0;
};

class WriteTraces {
 public:
  // Called with the guest-physical page and the offset of the first byte written.
  using Callback = std::function<void(Ppn page, uint32_t offset)>;

  // Registration of the translator (kCode) or anyone else interested in a kind of write.
  void on_write(TraceKind kind, Callback cb) { callbacks_.push_back({kind, std::move(cb)}); }
  void subscribe(TraceListener* l) { listeners_.push_back(l); }
  void unsubscribe(TraceListener* l);

  // kPageTable traces are counted (one reference per shadow mapping that used the table); kCode
  // traces are on or off. A page going from untraced to traced is announced to every listener.
  void add(Ppn page, TraceKind kind);
  void remove(Ppn page, TraceKind kind, uint32_t refs = 1);

  // Bit mask of TraceKind values on the page; 0 when untraced.
  uint8_t kinds(Ppn page) const;

  // A write to bytes [offset, end) of `page` is about to happen (a fault on a traced page) or
  // has happened (the monitor emulated it): listeners drop mappings derived from page-table
  // entries there, then the callbacks of each kind on the page run. Returns the kinds.
  uint8_t report_write(Ppn page, uint32_t offset, uint32_t end);
  // The monitor wrote guest-physical memory itself (an emulated instruction, device DMA): reports
  // every traced page in [pa, pa + len). An emulated write wider than the 8 bytes a fault reports
  // (rep stos, string moves, SSE stores) must come here.
  void report_physical_write(GuestPhysAddr pa, uint64_t len);

 private:
  struct State {
    uint32_t table_refs = 0;
    bool code = false;
  };
  std::unordered_map<uint32_t, State> pages_;
  std::vector<std::pair<TraceKind, Callback>> callbacks_;
  std::vector<TraceListener*> listeners_;
};

}  // namespace btvmm::mmu
