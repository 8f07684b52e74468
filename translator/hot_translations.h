// The guest code that ran most from the TC, for --stats: when a guest is slow or the IDENT share
// is low, this names the translation units responsible (their guest EIPs, to look up in the
// guest's symbols or in a --trace-tc dump). ExecProfile::fold adds each CCF's executed
// instructions here by TU start and CPL, so a TU that was flushed and translated again adds up.
// Filled only when the exec profile is collected (--stats). Counting only: never emits code.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace btvmm::translator {

struct HotTranslation {
  uint32_t eip = 0;  // first guest instruction of the TU
  uint8_t cpl = 0;
  uint64_t runs = 0;          // CCF runs
  uint64_t instructions = 0;  // guest instructions executed (early exits subtracted)
  uint64_t ident = 0;         // of which IDENT copies
  unsigned tu_instructions = 0;  // instructions in the TU (the latest translation's)
};

// Called by ExecProfile::fold with what one CCF executed since its last fold.
void note_executed(uint32_t eip, uint8_t cpl, uint64_t runs, uint64_t instructions, uint64_t ident,
                   unsigned tu_instructions);

// The `n` TUs that executed the most guest instructions, most first (ties: lower EIP first).
std::vector<HotTranslation> hottest_translations(size_t n);

// A table of hottest_translations(n) with each one's share of all instructions executed at its
// CPL, for the end of --stats; empty when nothing was counted. `name`, when given, names a TU's
// code (a guest symbol) or returns "".
using GuestCodeNamer = std::function<std::string(uint32_t eip, uint8_t cpl)>;
std::string format_hottest_translations(size_t n, const GuestCodeNamer& name = {});

// Forgets the table (tests); the shares divide by exec.cpl0/cpl3.instructions, reset with the stats.
void reset_hot_translations();

}  // namespace btvmm::translator
