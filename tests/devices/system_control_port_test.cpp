// Port 0x61 with the PIT behind it, driven like Linux's TSC calibration in arch/x86/kernel/
// tsc.c (pit_calibrate_tsc and quick_pit_calibrate).
#include <catch2/catch.hpp>

#include "devices/pit8254.h"
#include "devices/system_control_port.h"
#include "tests/devices/fakes.h"

using namespace btvmm::devices;
using namespace btvmm::devices::testing;

namespace {
struct Board {
  FakeClock clock;
  RecordingIrqSink irqs;
  Pit8254 pit{clock, irqs};
  SystemControlPort port61{pit};
  uint8_t in61() { return uint8_t(port61.io_read(0x61, 1)); }
  void out61(uint8_t v) { port61.io_write(0x61, 1, v); }
};
}  // namespace

TEST_CASE("port61_pit_calibrate_tsc_loop_sees_out2_rise_after_the_programmed_count") {
  Board b;
  b.out61((b.in61() & ~0x02) | 0x01);  // gate high, speaker off
  const uint16_t latch = 1193182 / (1000 / 10);  // CAL_LATCH for CAL_MS = 10
  b.pit.io_write(0x43, 1, 0xb0);
  b.pit.io_write(0x42, 1, latch & 0xff);
  b.pit.io_write(0x42, 1, latch >> 8);
  unsigned polls = 0;
  while ((b.in61() & 0x20) == 0) {
    b.clock.advance_ns(100000);  // each poll of the loop takes 100 us here
    REQUIRE(++polls < 1000);
  }
  CHECK(polls >= 99);
  CHECK(polls <= 101);
  CHECK(b.irqs.events.empty());  // channel 2 raises no interrupt
}

TEST_CASE("port61_quick_pit_calibrate_sees_msb_step_down_every_256_ticks") {
  Board b;
  b.out61((b.in61() & ~0x02) | 0x01);
  b.pit.io_write(0x43, 1, 0xb0);
  b.pit.io_write(0x42, 1, 0xff);
  b.pit.io_write(0x42, 1, 0xff);
  auto msb = [&] {
    b.pit.io_read(0x42, 1);
    return uint8_t(b.pit.io_read(0x42, 1));
  };
  CHECK(msb() == 0xff);
  for (unsigned i = 1; i <= 20; ++i) {
    b.clock.advance_ns(256ull * 1000000000ull / 1193182 + 1);
    CHECK(msb() == 0xff - i);
  }
}

TEST_CASE("port61_gate_bit_controls_channel2_and_reads_back") {
  Board b;
  CHECK_FALSE(b.pit.gate(2));
  b.out61(0x03);
  CHECK(b.pit.gate(2));
  CHECK((b.in61() & 0x0f) == 0x03);
  b.out61(0x02);
  CHECK_FALSE(b.pit.gate(2));
  CHECK((b.in61() & 0x0f) == 0x02);
}

TEST_CASE("port61_refresh_bit_toggles_between_reads") {
  Board b;
  uint8_t a = b.in61();
  uint8_t c = b.in61();
  CHECK(((a ^ c) & 0x10) == 0x10);
  CHECK((a & 0xc0) == 0);  // no parity or I/O check errors
}
