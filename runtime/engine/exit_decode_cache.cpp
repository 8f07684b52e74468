// Exit decode cache (see exit_decode_cache.h). Keyed like CCFs, by (guest EIP, CPL): CS.D is
// always 1 and a CS base change flushes the TC, so nothing else changes how the bytes decode.
#include "runtime/engine/exit_decode_cache.h"

#include "core/stats.h"

namespace btvmm::runtime::engine {

namespace {
stats::Counter c_resets{"tc.exit_decode_resets", "exit decode cache emptied because it reached its size bound"};
}  // namespace

void ExitDecodeCache::remember(const translator::DecodedInstruction& insn, translator::Kind kind,
                               const translator::Ccf& owner, uint64_t generation) {
  // Entries of an older TC generation can never be used again: drop them all at once.
  if (generation != generation_ || entries_.size() >= kMaxEntries) {
    if (generation == generation_) c_resets.inc();
    entries_.clear();
    recent_.fill(Recent{});
    generation_ = generation;
  }
  const translator::CcfKey key{insn.eip(), owner.key.cpl};
  Entry& e = entries_[key.packed()];
  e.insn = insn;
  e.kind = kind;
  e.owner = &owner;
  e.generation = generation;
}

const ExitDecodeCache::Entry* ExitDecodeCache::find(uint32_t eip, uint8_t cpl, uint64_t generation) {
  if (generation != generation_) return nullptr;
  const uint64_t key = translator::CcfKey{eip, cpl}.packed();
  Recent& r = recent_[(eip ^ (eip >> 8) ^ cpl) % kRecent];
  if (r.key != key) {
    const auto it = entries_.find(key);
    if (it == entries_.end()) return nullptr;
    r = {key, &it->second};
  }
  // A CCF never becomes valid again once invalidated; a stale one is re-checked before it runs.
  const translator::Ccf* owner = r.entry->owner;
  if (!owner->valid || owner->stale) return nullptr;
  return r.entry;
}

}  // namespace btvmm::runtime::engine
