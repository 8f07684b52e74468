// CMOS RTC driven as Linux's mc146818_get_time()/set_time() and drivers/rtc/rtc-cmos.c do,
// with an injected wall clock so dates are exact.
#include <catch2/catch.hpp>

#include <ctime>

#include "devices/rtc_cmos.h"
#include "tests/devices/fakes.h"

using namespace btvmm::devices;
using namespace btvmm::devices::testing;

namespace {
constexpr int64_t kSec = 1000000000;

int64_t utc_ns(int year, int mon, int mday, int hour, int min, int sec) {
  std::tm t{};
  t.tm_year = year - 1900;
  t.tm_mon = mon - 1;
  t.tm_mday = mday;
  t.tm_hour = hour;
  t.tm_min = min;
  t.tm_sec = sec;
  return int64_t(timegm(&t)) * kSec;
}

struct Cmos {
  FakeClock clock;
  RecordingIrqSink irqs;
  int64_t wall = utc_ns(2024, 3, 5, 13, 7, 9) + 1000;  // a Tuesday, just after the second
  RtcCmos rtc{clock, irqs, [this] { return wall; }};
  uint8_t read(uint8_t index) {
    rtc.io_write(0x70, 1, index);
    return uint8_t(rtc.io_read(0x71, 1));
  }
  void write(uint8_t index, uint8_t v) {
    rtc.io_write(0x70, 1, index);
    rtc.io_write(0x71, 1, v);
  }
  void advance(int64_t ns) {
    wall += ns;
    clock.advance_ns(uint64_t(ns));
  }
};
}  // namespace

TEST_CASE("rtc_reads_host_time_in_bcd_by_default") {
  Cmos c;
  CHECK(c.read(0x00) == 0x09);
  CHECK(c.read(0x02) == 0x07);
  CHECK(c.read(0x04) == 0x13);
  CHECK(c.read(0x06) == 0x03);  // Tuesday, with Sunday = 1
  CHECK(c.read(0x07) == 0x05);
  CHECK(c.read(0x08) == 0x03);
  CHECK(c.read(0x09) == 0x24);
  CHECK(c.read(0x32) == 0x20);
}

TEST_CASE("rtc_reads_binary_when_status_b_dm_is_set") {
  Cmos c;
  c.write(0x0b, 0x06);
  CHECK(c.read(0x00) == 9);
  CHECK(c.read(0x04) == 13);
  CHECK(c.read(0x09) == 24);
  CHECK(c.read(0x32) == 20);
}

TEST_CASE("rtc_12_hour_mode_sets_bit7_for_pm") {
  Cmos c;
  c.write(0x0b, 0x00);  // BCD, 12-hour
  CHECK(c.read(0x04) == 0x81);
  c.write(0x0b, 0x04);  // binary, 12-hour
  CHECK(c.read(0x04) == 0x81);
  c.wall = utc_ns(2024, 3, 5, 0, 30, 0);
  CHECK(c.read(0x04) == 12);  // midnight is 12 AM
}

TEST_CASE("rtc_time_advances_with_the_wall_clock") {
  Cmos c;
  c.advance(51 * kSec);
  CHECK(c.read(0x00) == 0x00);
  CHECK(c.read(0x02) == 0x08);
}

TEST_CASE("rtc_uip_is_set_only_just_before_the_update") {
  Cmos c;
  CHECK((c.read(0x0a) & 0x80) == 0);
  c.wall += kSec - 1000 - 100000;  // 100 us before the next second
  CHECK((c.read(0x0a) & 0x80) == 0x80);
  c.wall += 100000;
  CHECK((c.read(0x0a) & 0x80) == 0);
}

TEST_CASE("rtc_status_registers_reset_values") {
  Cmos c;
  CHECK(c.read(0x0a) == 0x26);
  CHECK(c.read(0x0b) == 0x02);
  CHECK(c.read(0x0d) == 0x80);
  c.write(0x0d, 0x00);
  CHECK(c.read(0x0d) == 0x80);  // read-only
}

TEST_CASE("rtc_guest_sets_time_under_the_set_bit_and_it_keeps_running") {
  Cmos c;
  c.write(0x0b, 0x82);  // SET, 24-hour, BCD: as mc146818_set_time does
  c.write(0x09, 0x30);
  c.write(0x08, 0x02);
  c.write(0x07, 0x31);  // 31 February while the month is being changed...
  c.write(0x08, 0x12);  // ...fixed before SET is released
  c.write(0x04, 0x23);
  c.write(0x02, 0x59);
  c.write(0x00, 0x58);
  CHECK(c.read(0x00) == 0x58);  // frozen while SET is held
  c.advance(5 * kSec);
  CHECK(c.read(0x00) == 0x58);
  c.write(0x0b, 0x02);
  CHECK(c.read(0x07) == 0x31);
  CHECK(c.read(0x08) == 0x12);
  c.advance(3 * kSec);
  CHECK(c.read(0x09) == 0x31);
  CHECK(c.read(0x08) == 0x01);
  CHECK(c.read(0x07) == 0x01);
  CHECK(c.read(0x04) == 0x00);
  CHECK(c.read(0x00) == 0x01);
}

TEST_CASE("rtc_cmos_reports_memory_sizes_like_a_pc_bios") {
  Cmos c;
  c.rtc.set_memory_size(256ull << 20);
  CHECK((c.read(0x15) | c.read(0x16) << 8) == 640);
  CHECK((c.read(0x17) | c.read(0x18) << 8) == 0xffff);  // capped at 64 MiB - 1 KiB
  CHECK((c.read(0x30) | c.read(0x31) << 8) == 0xffff);
  CHECK((c.read(0x34) | c.read(0x35) << 8) == (240 << 20) / 65536);
  c.rtc.set_memory_size(8ull << 20);
  CHECK((c.read(0x17) | c.read(0x18) << 8) == 7 * 1024);
  CHECK((c.read(0x30) | c.read(0x31) << 8) == 7 * 1024);
  CHECK((c.read(0x34) | c.read(0x35) << 8) == 0);
  unsigned sum = 0;
  for (unsigned i = 0x10; i <= 0x2d; ++i) sum += c.read(uint8_t(i));
  CHECK((c.read(0x2e) << 8 | c.read(0x2f)) == int(sum));
}

TEST_CASE("rtc_index_port_bit7_is_the_nmi_mask_not_part_of_the_index") {
  Cmos c;
  c.rtc.io_write(0x70, 1, 0x80 | 0x0a);
  CHECK(c.rtc.nmi_disabled());
  CHECK(c.rtc.io_read(0x71, 1) == 0x26);
  c.rtc.io_write(0x70, 1, 0x0a);
  CHECK_FALSE(c.rtc.nmi_disabled());
}

TEST_CASE("rtc_ram_bytes_keep_what_the_guest_writes") {
  Cmos c;
  c.write(0x40, 0x5a);
  c.write(0x7f, 0xa5);
  CHECK(c.read(0x40) == 0x5a);
  CHECK(c.read(0x7f) == 0xa5);
}

TEST_CASE("rtc_periodic_interrupt_raises_irq8_until_status_c_is_read") {
  Cmos c;
  c.read(0x0c);
  c.write(0x0b, 0x42);  // PIE, 24-hour
  uint64_t deadline = c.rtc.next_deadline_ns();
  REQUIRE(deadline != UINT64_MAX);
  CHECK(deadline - c.clock.now <= 976563);  // 1024 Hz
  c.clock.now = deadline;
  c.rtc.poll(deadline);
  CHECK(c.irqs.levels[8]);
  CHECK(c.irqs.rising[8] == 1);
  CHECK((c.read(0x0c) & 0xc0) == 0xc0);  // IRQF | PF
  CHECK_FALSE(c.irqs.levels[8]);
  CHECK(c.read(0x0c) == 0);
  CHECK(c.rtc.next_deadline_ns() > deadline);
}

TEST_CASE("rtc_update_ended_interrupt_fires_once_per_second") {
  Cmos c;
  c.read(0x0c);
  c.write(0x0b, 0x12);  // UIE
  uint64_t deadline = c.rtc.next_deadline_ns();
  CHECK(deadline - c.clock.now == uint64_t(kSec - 1000));
  c.advance(kSec - 1000);
  c.rtc.poll(c.clock.now);
  CHECK(c.irqs.levels[8]);
  CHECK((c.read(0x0c) & 0xb0) == 0x90);  // IRQF | UF (PF runs too, but PIE is off)
  c.rtc.poll(c.clock.now);
  CHECK_FALSE(c.irqs.levels[8]);
}

TEST_CASE("rtc_alarm_interrupt_fires_when_time_matches") {
  Cmos c;
  c.read(0x0c);
  c.write(0x01, 0x11);  // 13:07:11
  c.write(0x03, 0x07);
  c.write(0x05, 0xc0);  // any hour
  c.write(0x0b, 0x22);  // AIE
  c.advance(kSec);
  c.rtc.poll(c.clock.now);
  CHECK_FALSE(c.irqs.levels[8]);
  c.advance(kSec);
  c.rtc.poll(c.clock.now);
  CHECK(c.irqs.levels[8]);
  CHECK((c.read(0x0c) & 0xa0) == 0xa0);
}
