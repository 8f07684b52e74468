// Compiled code fragments (DESIGN.md 3): where one translation unit's host code lives, which
// guest EIP each host byte stands for (precise exceptions), its chaining slots, and the cache of
// every CCF by (guest EIP, mode) and by guest-physical page (invalidation). Bookkeeping only:
// never emits code; patches only the 4-byte displacement of its own chaining jumps.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include "translator/emit_ident.h"
#include "translator/exec_profile.h"

namespace btvmm::translator {

// What besides the EIP changes a translation. CS.D is always 1 here (32-bit code only), so the
// CPL is the one mode bit: CPL 3 code runs with user-mode access checks.
struct CcfKey {
  uint32_t eip = 0;
  uint8_t cpl = 0;
  uint64_t packed() const { return uint64_t(eip) | (uint64_t(cpl) << 32); }
};

// A direct-branch exit: a 5-byte `jmp rel32` at jmp_offset, aimed at its own exit stub until the
// target's CCF exists, then patched to jump straight there ("chaining").
struct ChainSlot {
  size_t jmp_offset = 0;
  size_t stub_offset = 0;
  uint32_t target_eip = 0;
  struct Ccf* linked = nullptr;
};

struct Ccf {
  CcfKey key;
  uint32_t guest_pages[2] = {};  // guest-physical page numbers holding the TU's bytes
  unsigned guest_page_count = 0;
  uint8_t* host = nullptr;  // entry point (the attention check)
  size_t host_size = 0;
  size_t body_offset = 0;  // first guest instruction, after the attention check
  unsigned guest_bytes = 0;
  std::vector<EmittedRange> map;  // one per guest instruction, in host order
  std::vector<ChainSlot> slots;
  // Slots of other CCFs that jump here, to unchain when this one is invalidated.
  std::vector<std::pair<Ccf*, unsigned>> incoming;
  bool valid = true;
  // Mapping epoch (CcfCache::epoch) in which the EIP -> guest-physical mapping of its code was last
  // checked; after a CR3 load or INVLPG it is re-checked before reuse.
  uint64_t epoch = 0;
  // Runs of this CCF and its instructions by kind; folded into exec.* counters when destroyed.
  ExecProfile profile;

  bool contains(uint64_t host_addr) const {
    auto h = reinterpret_cast<uint64_t>(host);
    return host_addr >= h && host_addr < h + host_size;
  }
  // Guest EIP of the instruction whose host code covers host_addr (empty outside every
  // instruction: prologue and exit stubs, which never touch guest memory).
  std::optional<uint32_t> guest_eip_at(uint64_t host_addr) const;
};

// Points slot `index` of `from` at `to` (or back at its stub when `to` is null).
void patch_chain(Ccf& from, unsigned index, Ccf* to);

class CcfCache {
 public:
  Ccf* find(CcfKey key) const;
  // Takes ownership. The CCF's host code must follow every other's (bump allocation order).
  Ccf* insert(std::unique_ptr<Ccf> ccf);
  // The CCF (valid or not) whose host range holds host_addr.
  Ccf* by_host(uint64_t host_addr) const;
  // Links slot `index` of `from` to `to` (counts "tc.chained").
  void chain(Ccf& from, unsigned index, Ccf& to);
  // Invalidates every CCF on guest-physical page `ppn` and unchains jumps into them; returns them
  // (counts "tc.invalidations"). Their code stays in the TC until the next flush.
  std::vector<Ccf*> invalidate_page(uint32_t ppn);
  // Unchains every jump into `ccf` and removes it from the EIP map.
  void invalidate(Ccf& ccf);
  // Forgets everything (the TC was flushed).
  void clear();
  // Points every chaining jump back at its exit stub (guest mappings changed: each CCF must be
  // re-checked by the dispatcher before it is entered again).
  void unchain_all();
  uint64_t epoch = 0;
  bool page_has_code(uint32_t ppn) const { return by_page_.count(ppn) != 0; }
  size_t size() const { return by_key_.size(); }
  bool chaining_enabled = true;

 private:
  std::vector<std::unique_ptr<Ccf>> all_;  // host address order
  std::unordered_map<uint64_t, Ccf*> by_key_;
  std::unordered_map<uint32_t, std::vector<Ccf*>> by_page_;
};

}  // namespace btvmm::translator
