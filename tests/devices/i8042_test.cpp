// i8042 with nothing attached, driven like Linux's drivers/input/serio/i8042.c probe
// (flush, self-test, CTR read/write, AUX loop and toggle tests) and its reboot paths.
#include <catch2/catch.hpp>

#include "devices/i8042.h"
#include "tests/devices/fakes.h"

using namespace btvmm::devices;
using namespace btvmm::devices::testing;

namespace {
struct Kbc {
  RecordingIrqSink irqs;
  RecordingMachine machine;
  I8042 kbc{irqs, machine};
  uint8_t status() { return uint8_t(kbc.io_read(0x64, 1)); }
  uint8_t data() { return uint8_t(kbc.io_read(0x60, 1)); }
  void command(uint8_t c) { kbc.io_write(0x64, 1, c); }
  void write_data(uint8_t v) { kbc.io_write(0x60, 1, v); }
  // i8042_command(): write the command, then read one reply byte once OBF is set.
  int reply(uint8_t c) {
    command(c);
    if (!(status() & 0x01)) return -1;
    return data();
  }
};
}  // namespace

TEST_CASE("i8042_linux_probe_flushes_self_tests_and_round_trips_the_ctr") {
  Kbc k;
  CHECK(k.status() != 0xff);
  CHECK((k.status() & 0x01) == 0);  // nothing to flush
  CHECK(k.reply(0xaa) == 0x55);
  CHECK((k.status() & 0x04) == 0x04);  // system flag after self-test
  int ctr = k.reply(0x20);
  REQUIRE(ctr >= 0);
  uint8_t new_ctr = uint8_t((ctr | 0x30) & ~0x03);  // disable both ports and their interrupts
  k.command(0x60);
  k.write_data(new_ctr);
  CHECK(k.reply(0x20) == new_ctr);
  CHECK(k.kbc.command_byte() == new_ctr);
}

TEST_CASE("i8042_interface_tests_report_no_error") {
  Kbc k;
  CHECK(k.reply(0xab) == 0x00);
  CHECK(k.reply(0xa9) == 0x00);
}

TEST_CASE("i8042_port_enable_disable_commands_toggle_ctr_bits") {
  Kbc k;
  k.command(0xa7);
  CHECK((k.reply(0x20) & 0x20) == 0x20);
  k.command(0xa8);
  CHECK((k.reply(0x20) & 0x20) == 0x00);
  k.command(0xad);
  CHECK((k.reply(0x20) & 0x10) == 0x10);
  k.command(0xae);
  CHECK((k.reply(0x20) & 0x10) == 0x00);
}

TEST_CASE("i8042_aux_loop_returns_the_byte_as_aux_data_with_irq12") {
  Kbc k;
  k.command(0x60);
  k.write_data(0x47);  // AUX interrupt on, as i8042_enable_aux_port leaves it
  k.command(0xd3);
  k.write_data(0xa5);
  CHECK((k.status() & 0x21) == 0x21);
  CHECK(k.irqs.levels[12]);
  CHECK_FALSE(k.irqs.levels[1]);
  CHECK(k.data() == 0xa5);
  CHECK_FALSE(k.irqs.levels[12]);
}

TEST_CASE("i8042_bytes_to_absent_devices_time_out_with_fe") {
  Kbc k;
  k.command(0x60);
  k.write_data(0x47);
  k.write_data(0xf2);  // atkbd GETID to a keyboard that is not there
  CHECK((k.status() & 0x61) == 0x41);  // OBF | timeout, not aux
  CHECK(k.irqs.levels[1]);
  CHECK(k.data() == 0xfe);
  k.command(0xd4);  // psmouse GETID to a mouse that is not there
  k.write_data(0xf2);
  CHECK((k.status() & 0x61) == 0x61);
  CHECK(k.irqs.levels[12]);
  CHECK(k.data() == 0xfe);
  CHECK((k.status() & 0x01) == 0);
}

TEST_CASE("i8042_each_queued_byte_is_a_fresh_irq1_edge") {
  Kbc k;
  k.command(0x60);
  k.write_data(0x45);
  k.command(0xd2);
  k.write_data(0x1c);
  k.command(0xd2);
  k.write_data(0x9c);
  CHECK(k.irqs.rising[1] == 1);
  CHECK(k.data() == 0x1c);
  CHECK(k.irqs.rising[1] == 2);
  CHECK(k.data() == 0x9c);
  CHECK_FALSE(k.irqs.levels[1]);
}

TEST_CASE("i8042_pulse_command_fe_requests_a_reset") {
  Kbc k;
  k.command(0xfe);
  CHECK(k.machine.resets == 1);
  k.command(0xff);  // pulses no line
  CHECK(k.machine.resets == 1);
}

TEST_CASE("i8042_output_port_write_with_bit0_clear_resets") {
  Kbc k;
  k.command(0xd1);
  k.write_data(0x03);  // A20 on, reset inactive
  CHECK(k.machine.resets == 0);
  CHECK(k.kbc.a20_enabled());
  CHECK(k.reply(0xd0) == 0x03);
  k.command(0xd1);
  k.write_data(0x02);
  CHECK(k.machine.resets == 1);
}

TEST_CASE("i8042_status_bit3_tells_command_from_data_writes") {
  Kbc k;
  k.command(0xad);
  CHECK((k.status() & 0x08) == 0x08);
  k.command(0x60);
  k.write_data(0x45);
  CHECK((k.status() & 0x08) == 0x00);
}
