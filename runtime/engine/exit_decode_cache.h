// Decoded guest instructions at which translated code may exit to the monitor (callouts, in-TC
// virtual-CPU sequences that give up, SIMULATE stores), kept from TU formation so a monitor exit
// neither fetches the bytes again through the guest's paging nor decodes them again (Zydis).
// An entry is only as good as the CCF it was translated for: it is used only while that CCF is
// valid, not stale and the TC was not flushed since, i.e. while its bytes are still the guest's
// code at that EIP (code pages are write-traced, DESIGN.md 3). Never decides anything itself.
#pragma once

#include <array>
#include <cstdint>
#include <unordered_map>

#include "translator/ccf.h"
#include "translator/classify.h"
#include "translator/decode.h"

namespace btvmm::runtime::engine {

class ExitDecodeCache {
 public:
  struct Entry {
    translator::DecodedInstruction insn;
    translator::Kind kind = translator::Kind::kCallout;
    const translator::Ccf* owner = nullptr;
    uint64_t generation = 0;
  };

  // Most entries kept (an entry is ~1.2 KiB): past it the cache starts again empty, so a guest
  // with a huge kernel costs bounded memory and only extra decodes.
  static constexpr size_t kMaxEntries = 8192;

  // `insn` (of kind `kind`) is part of `owner`, translated in TC generation `generation`.
  void remember(const translator::DecodedInstruction& insn, translator::Kind kind, const translator::Ccf& owner,
                uint64_t generation);
  // The entry for the instruction at `eip` for code at `cpl`, or null when there is none or its
  // CCF no longer vouches for the bytes (invalidated, stale, or from before a TC flush).
  const Entry* find(uint32_t eip, uint8_t cpl, uint64_t generation);
  size_t size() const { return entries_.size(); }

 private:
  // Direct-mapped front of the map for the exits a loop keeps taking (map nodes never move).
  struct Recent {
    uint64_t key = ~uint64_t(0);
    const Entry* entry = nullptr;
  };
  static constexpr size_t kRecent = 256;

  std::unordered_map<uint64_t, Entry> entries_;
  std::array<Recent, kRecent> recent_{};
  uint64_t generation_ = 0;
};

}  // namespace btvmm::runtime::engine
