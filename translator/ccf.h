// Compiled code fragments (DESIGN.md 3): where one translation unit's host code lives, which
// guest EIP each host byte stands for (precise exceptions), its chaining slots, and the cache of
// every CCF by (guest EIP, mode), by guest-physical page (code writes) and by linear page (paging
// changes). Bookkeeping only: never emits code; patches only its own chaining jumps.
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

// Where one page of a TU's code lies in the guest's linear space, as found when the CCF was
// translated or last re-checked. A CCF stays valid only while this translation holds.
struct CodeMapping {
  uint32_t lpn = 0;  // linear page (CS base + EIP) >> 12
  uint32_t ppn = 0;  // guest-physical page it translated to
  // PTE.G with CR4.PGE: survives CR3 loads until INVLPG or a CR4.PGE change (SDM vol. 3A
  // 4.10.2.4), so a CCF whose every code page is global needs nothing on a CR3 load.
  bool global = false;
  // From a 4 MiB page: INVLPG of any address in it drops the whole page (SDM vol. 3A 4.10.4.1).
  bool large = false;
};

// A direct-branch exit: a `jmp rel32` (E9) or `jcc rel32` (0F 80+cc) at jmp_offset, aimed at its own
// exit stub until the target's CCF exists, then patched to jump straight there ("chaining"). A taken
// guest Jcc is one host branch to its target, not a jcc to a jmp.
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
  // First byte of its host code: the attention check's exit, which precedes the entry so that the
  // check's branch is a backward one, not taken while no attention is pending.
  uint8_t* host = nullptr;
  size_t host_size = 0;
  size_t entry_offset = 0;  // the attention check, where transfers from outside the CCF enter
  size_t body_offset = 0;  // first guest instruction, after the attention check
  // Offsets (entry, body, map, slots) count from `host`.
  unsigned guest_bytes = 0;
  std::vector<EmittedRange> map;  // one per guest instruction, in host order
  std::vector<ChainSlot> slots;
  // Slots of other CCFs that jump here, to unchain when this one is invalidated.
  std::vector<std::pair<Ccf*, unsigned>> incoming;
  // The chains cut when it went stale: linked again if a re-check keeps it (CcfCache::revalidate).
  std::vector<std::pair<Ccf*, unsigned>> dormant;
  bool valid = true;
  // Linear pages of its first and last byte (one entry when they share a page).
  CodeMapping mappings[2];
  unsigned mapping_count = 0;
  // A CR3 load, INVLPG or paging-mode change may have moved its code: it is unchained, out of the
  // inline lookup, and re-checked by the dispatcher before it is entered again.
  bool stale = false;
  bool in_local_list = false;  // listed in CcfCache::local() (has a non-global mapping)
  bool in_large_index = false;
  // Runs of this CCF and its instructions by kind; folded into exec.* counters when destroyed.
  ExecProfile profile;

  uint8_t* entry() const { return host + entry_offset; }
  bool contains(uint64_t host_addr) const {
    auto h = reinterpret_cast<uint64_t>(host);
    return host_addr >= h && host_addr < h + host_size;
  }
  // The guest instruction whose host code covers host_addr, and its EIP (null/empty outside
  // every instruction: prologue and exit stubs, which never touch guest memory).
  const EmittedRange* range_at(uint64_t host_addr) const;
  std::optional<uint32_t> guest_eip_at(uint64_t host_addr) const;
  // A run left at its guest instruction `eip` (a fault or emulation exit; exec_profile.h).
  void note_early_exit(uint32_t eip, EarlyExit how);
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
  // Links slot `index` of `from` to `to` (counts "tc.chained"); false if it could not (either is
  // invalid, `to` is stale, the slot is linked already, chaining is off).
  bool chain(Ccf& from, unsigned index, Ccf& to);
  // Invalidates every CCF on guest-physical page `ppn` and unchains jumps into them; returns them
  // (counts "tc.invalidations"). Their code stays in the TC until the next flush.
  std::vector<Ccf*> invalidate_page(uint32_t ppn);
  // Unchains every jump into `ccf` and removes it from the EIP map.
  void invalidate(Ccf& ccf);
  // Forgets everything (the TC was flushed).
  void clear();
  // Unchains every jump into `ccf` and marks it stale (its code mapping must be re-checked before
  // it is entered again). False when it was already stale or invalid. Counts "tc.stale".
  bool mark_stale(Ccf& ccf);
  // A stale CCF whose re-check found its code where it was: fresh again, and the chains cut when
  // it went stale are linked again (counts "tc.relinked"), as each of those jumps would be at its
  // next exit, one dispatcher pass each (a CR3 load stales a process's code in the next one).
  void revalidate(Ccf& ccf);
  // Records where ccf.mappings say its code lies (call after filling them in, and again after a
  // re-check changed them), for the queries below.
  void index_mappings(Ccf& ccf);
  // Valid CCFs with code on linear page lpn, or from a 4 MiB page containing it.
  template <typename Fn>
  void for_each_on_linear_page(uint32_t lpn, Fn&& fn);
  // Valid CCFs with at least one non-global code mapping (what a CR3 load can move).
  template <typename Fn>
  void for_each_local(Fn&& fn);
  template <typename Fn>
  void for_each_valid(Fn&& fn) {
    for (const std::unique_ptr<Ccf>& c : all_)
      if (c->valid) fn(*c);
  }
  bool page_has_code(uint32_t ppn) const { return by_page_.count(ppn) != 0; }
  size_t size() const { return by_key_.size(); }
  bool chaining_enabled = true;

 private:
  std::vector<std::unique_ptr<Ccf>> all_;  // host address order
  std::unordered_map<uint64_t, Ccf*> by_key_;
  std::unordered_map<uint32_t, std::vector<Ccf*>> by_page_;
  std::unordered_map<uint32_t, std::vector<Ccf*>> by_linear_page_;   // lpn -> CCFs (maybe invalid)
  std::unordered_map<uint32_t, std::vector<Ccf*>> large_by_region_;  // la >> 22 -> CCFs on 4 MiB pages
  std::vector<Ccf*> local_;
};

template <typename Fn>
void CcfCache::for_each_on_linear_page(uint32_t lpn, Fn&& fn) {
  for (auto* index : {&by_linear_page_, &large_by_region_}) {
    auto it = index->find(index == &by_linear_page_ ? lpn : lpn >> 10);
    if (it == index->end()) continue;
    std::vector<Ccf*>& v = it->second;
    std::erase_if(v, [](const Ccf* c) { return !c->valid; });
    // fn may mark CCFs stale but never invalidates or adds any, so v stays put.
    for (Ccf* c : v) fn(*c);
    if (v.empty()) index->erase(it);
  }
}

template <typename Fn>
void CcfCache::for_each_local(Fn&& fn) {
  std::erase_if(local_, [](Ccf* c) {
    bool local = false;
    for (unsigned i = 0; i < c->mapping_count; ++i) local |= !c->mappings[i].global;
    const bool keep = c->valid && local;
    if (!keep) c->in_local_list = false;
    return !keep;
  });
  for (Ccf* c : local_) fn(*c);
}

}  // namespace btvmm::translator
