// Tests of where a chained jump enters its target CCF (translator/ccf.cpp patch_chain): after the
// attention check when the target's guest EIP lies above the source CCF's start, at the check
// otherwise, so every loop of chained CCFs still polls for interrupts once per iteration.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>

#include "translator/ccf.h"

using namespace btvmm::translator;

namespace {

// Where the E9 (jmp) or 0F 8x (jcc) rel32 at `from`'s slot 0 jumps.
const uint8_t* jump_destination(const Ccf& from) {
  const uint8_t* jmp = from.host + from.slots[0].jmp_offset;
  const size_t opcode = jmp[0] == 0x0F ? 2 : 1;
  int32_t rel = 0;
  std::memcpy(&rel, jmp + opcode, 4);
  return jmp + opcode + 4 + rel;
}

struct TwoCcfs {
  uint8_t code[256] = {};
  Ccf from, to;
  TwoCcfs(uint32_t from_eip, uint32_t target_eip, bool jcc = false) {
    from.key = {from_eip, 0};
    from.host = code;
    from.host_size = 64;
    from.body_offset = 17;
    from.slots.push_back({40, 50, target_eip, nullptr});
    code[40] = jcc ? 0x0f : 0xe9;
    code[41] = 0x85;  // jnz rel32 when jcc
    to.key = {target_eip, 0};
    to.host = code + 128;
    to.host_size = 64;
    to.entry_offset = 8;  // the attention exit precedes the entry
    to.body_offset = 25;
  }
};

}  // namespace

TEST_CASE("forward chains skip the attention check and backward or self chains enter at it") {
  CcfCache cache;
  {
    TwoCcfs t(0x1000, 0x1040);  // forward: fall-through or a forward jcc
    cache.chain(t.from, 0, t.to);
    CHECK(jump_destination(t.from) == t.to.host + t.to.body_offset);
  }
  {
    TwoCcfs t(0x1000, 0x0ff0);  // backward: a loop's back edge
    cache.chain(t.from, 0, t.to);
    CHECK(jump_destination(t.from) == t.to.entry());
  }
  {
    TwoCcfs t(0x1000, 0x1000);  // a CCF that jumps to its own start
    cache.chain(t.from, 0, t.to);
    CHECK(jump_destination(t.from) == t.to.entry());
  }
  {
    TwoCcfs t(0x1000, 0x1040);  // unchaining goes back to the slot's exit stub
    cache.chain(t.from, 0, t.to);
    cache.invalidate(t.to);
    CHECK(jump_destination(t.from) == t.from.host + 50);
  }
}

TEST_CASE("a chaining jcc is patched in its own rel32 and unchained back to its stub") {
  CcfCache cache;
  {
    TwoCcfs t(0x1000, 0x0ff0, true);  // a loop's conditional back edge
    cache.chain(t.from, 0, t.to);
    CHECK(jump_destination(t.from) == t.to.entry());
    CHECK(t.code[40] == 0x0f);  // the opcode bytes stay
    CHECK(t.code[41] == 0x85);
    cache.invalidate(t.to);
    CHECK(jump_destination(t.from) == t.from.host + 50);
  }
  {
    TwoCcfs t(0x1000, 0x1040, true);
    cache.chain(t.from, 0, t.to);
    CHECK(jump_destination(t.from) == t.to.host + t.to.body_offset);
  }
}
