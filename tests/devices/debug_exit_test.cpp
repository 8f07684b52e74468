// isa-debug-exit as kvm-unit-tests and the project's test guest use it (outl/outb to 0xf4).
#include <catch2/catch.hpp>

#include "devices/debug_exit.h"
#include "tests/devices/fakes.h"

using namespace btvmm::devices;
using namespace btvmm::devices::testing;

TEST_CASE("debug_exit_write_of_v_requests_exit_status_v_shifted_left_plus_one") {
  RecordingMachine m;
  DebugExit dev(m);
  dev.io_write(0xf4, 4, 0);
  dev.io_write(0xf4, 1, 0x10);
  dev.io_write(0xf4, 2, 0x7f);
  REQUIRE(m.exits.size() == 3);
  CHECK(m.exits[0] == 1);
  CHECK(m.exits[1] == 0x21);
  CHECK(m.exits[2] == 0xff);
  CHECK(m.resets == 0);
}

TEST_CASE("debug_exit_narrow_write_uses_only_the_written_bytes") {
  RecordingMachine m;
  DebugExit dev(m);
  dev.io_write(0xf4, 1, 0xabcd01);
  REQUIRE(m.exits.size() == 1);
  CHECK(m.exits[0] == 3);
}

TEST_CASE("debug_exit_reads_zero_and_request_nothing") {
  RecordingMachine m;
  DebugExit dev(m);
  CHECK(dev.io_read(0xf4, 4) == 0);
  CHECK(m.exits.empty());
}
