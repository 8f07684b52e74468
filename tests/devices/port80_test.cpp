// Port 0x80 as Linux's io_delay (outb to 0x80) and BIOS-style POST codes use it.
#include <catch2/catch.hpp>

#include "core/stats.h"
#include "devices/port80.h"

using namespace btvmm;
using namespace btvmm::devices;

namespace {
uint64_t counter(const char* name) {
  for (const auto& s : stats::snapshot())
    if (s.name == name) return s.value;
  return ~0ull;
}
}  // namespace

TEST_CASE("port80_writes_are_counted_and_reads_float_high") {
  Port80 p;
  uint64_t before = counter("io.port80_writes");
  p.io_write(0x80, 1, 0x12);
  p.io_write(0x80, 1, 0x34);
  CHECK(counter("io.port80_writes") == before + 2);
  CHECK(p.last_code() == 0x34);
  CHECK(p.io_read(0x80, 1) == 0xff);
  CHECK(p.io_read(0x80, 2) == 0xffff);
}
