// The assembled PC through its PortBus, as a backend sees it: port ownership, the PIT -> PIC
// -> INTA path Linux's timer interrupt takes, console output, exit and reset requests.
#include <catch2/catch.hpp>

#include <algorithm>
#include <string>

#include "devices/pc_devices.h"
#include "tests/devices/fakes.h"

using namespace btvmm::devices;
using namespace btvmm::devices::testing;

namespace {
struct Pc {
  FakeClock clock;
  RecordingMachine machine;
  RecordingCharBackend console;
  PortBus ports;
  MmioBus mmio;
  PcDevices devices{ports, mmio, clock, machine, console, 64ull << 20, [] { return int64_t(1700000000) * 1000000000; }};
  uint8_t in(uint16_t port) { return uint8_t(ports.read(port, 1)); }
  void outb(uint16_t port, uint8_t v) { ports.write(port, 1, v); }
  void run_timed_devices() {
    for (TimedDevice* d : devices.timed_devices())
      if (d->next_deadline_ns() <= clock.now) d->poll(clock.now);
  }
};
}  // namespace

TEST_CASE("pc_devices_map_every_legacy_port_to_its_device") {
  Pc pc;
  CHECK(pc.ports.owner(0x20) == "pic-master");
  CHECK(pc.ports.owner(0xa1) == "pic-slave");
  CHECK(pc.ports.owner(0x4d1) == "pic-elcr");
  CHECK(pc.ports.owner(0x43) == "pit");
  CHECK(pc.ports.owner(0x61) == "port61");
  CHECK(pc.ports.owner(0x60) == "i8042-data");
  CHECK(pc.ports.owner(0x64) == "i8042-cmd");
  CHECK(pc.ports.owner(0x71) == "rtc");
  CHECK(pc.ports.owner(0x80) == "port80");
  CHECK(pc.ports.owner(0xf7) == "isa-debug-exit");
  CHECK(pc.ports.owner(0x3fd) == "com1");
  CHECK(pc.ports.owner(0xcff) == "pci-conf1");
  CHECK(pc.ports.owner(0x3d4).empty());
  CHECK(pc.in(0x3d4) == 0xff);  // absent VGA CRTC, as Linux's probe expects
  CHECK(pc.devices.timed_devices().size() == 2);
}

TEST_CASE("pc_pit_tick_reaches_the_cpu_as_vector_0x30_after_linux_pic_init") {
  Pc pc;
  const uint8_t init[][2] = {{0x21, 0xff}, {0xa1, 0xff}, {0x20, 0x11}, {0x21, 0x30}, {0x21, 0x04}, {0x21, 0x01},
                             {0xa0, 0x11}, {0xa1, 0x38}, {0xa1, 0x02}, {0xa1, 0x01}, {0x21, 0xfa}, {0xa1, 0xff}};
  for (auto& w : init) pc.outb(w[0], w[1]);
  pc.outb(0x43, 0x34);
  pc.outb(0x40, 0x9c);  // 11932 = 0x2e9c
  pc.outb(0x40, 0x2e);
  auto& intc = pc.devices.interrupt_controller();
  pc.run_timed_devices();
  CHECK_FALSE(intc.has_interrupt());
  pc.clock.advance_ns(10000200);  // 11932 ticks = 10.00015 ms
  pc.run_timed_devices();
  REQUIRE(intc.has_interrupt());
  CHECK(intc.acknowledge() == 0x30);
  pc.outb(0x20, 0x60);  // specific EOI for IRQ 0
  CHECK_FALSE(intc.has_interrupt());
}

TEST_CASE("pc_console_output_and_input_go_through_com1") {
  Pc pc;
  pc.outb(0x3fb, 0x03);
  pc.outb(0x3f8, 'o');
  pc.outb(0x3f8, 'k');
  CHECK(pc.console.out == "ok");
  REQUIRE(pc.devices.console_can_receive());
  pc.devices.console_receive('i');
  CHECK((pc.in(0x3fd) & 0x01) == 0x01);
  CHECK(pc.in(0x3f8) == 'i');
}

TEST_CASE("pc_debug_exit_and_i8042_reset_reach_machine_control") {
  Pc pc;
  pc.ports.write(0xf4, 4, 0x10);
  REQUIRE(pc.machine.exits.size() == 1);
  CHECK(pc.machine.exits[0] == 0x21);
  pc.outb(0x64, 0xfe);
  CHECK(pc.machine.resets == 1);
}

TEST_CASE("pc_cmos_reports_the_ram_size_it_was_built_with") {
  Pc pc;
  pc.outb(0x70, 0x34);
  uint8_t lo = pc.in(0x71);
  pc.outb(0x70, 0x35);
  uint8_t hi = pc.in(0x71);
  CHECK((lo | hi << 8) == (48 << 20) / 65536);
  pc.outb(0x70, 0x09);
  CHECK(pc.in(0x71) == 0x23);  // 1700000000 is in 2023
}

namespace {
void linux_pic_init(Pc& pc) {
  const uint8_t init[][2] = {{0x21, 0xff}, {0xa1, 0xff}, {0x20, 0x11}, {0x21, 0x30}, {0x21, 0x04}, {0x21, 0x01},
                             {0xa0, 0x11}, {0xa1, 0x38}, {0xa1, 0x02}, {0xa1, 0x01}, {0x21, 0xea}, {0xa1, 0xff}};
  for (auto& w : init) pc.outb(w[0], w[1]);  // IRQ 0, 2 and 4 unmasked
}
}  // namespace

TEST_CASE("pc_interrupt_driven_uart_transmit_drains_without_stalling") {
  // The tty path of Linux's 8250 driver: start_tx sets IER.THRI; the IRQ 4 handler loops on IIR,
  // writing up to 16 bytes per THRE and clearing THRI once the buffer is empty.
  Pc pc;
  linux_pic_init(pc);
  pc.outb(0x3fa, 0xc7);
  pc.outb(0x3fc, 0x0b);  // DTR | RTS | OUT2
  std::string pending(100, 'x');
  for (size_t i = 0; i < pending.size(); ++i) pending[i] = char('a' + i % 26);
  const std::string expected = pending;
  uint8_t ier = 0;
  ier |= 0x02;
  pc.outb(0x3f9, ier);
  auto& intc = pc.devices.interrupt_controller();
  unsigned deliveries = 0, unhandled = 0;
  while (intc.has_interrupt()) {
    REQUIRE(++deliveries < 50);
    REQUIRE(intc.acknowledge() == 0x34);
    bool handled = false;
    for (unsigned pass = 0; pass < 512; ++pass) {
      uint8_t iir = pc.in(0x3fa);
      if (iir & 0x01) break;
      handled = true;
      uint8_t lsr = pc.in(0x3fd);
      if ((lsr & 0x20) && (ier & 0x02)) {
        for (unsigned n = 0; n < 16 && !pending.empty(); ++n) {
          pc.outb(0x3f8, uint8_t(pending.front()));
          pending.erase(0, 1);
        }
        if (pending.empty()) pc.outb(0x3f9, ier &= uint8_t(~0x02));
      }
    }
    if (!handled) ++unhandled;
    pc.outb(0x20, 0x64);  // specific EOI, IRQ 4
  }
  CHECK(pc.console.out == expected);
  CHECK(pending.empty());
  CHECK(unhandled <= deliveries / 2 + 1);
}

TEST_CASE("pc_pit_oneshot_rearmed_from_the_irq0_handler_fires_each_time") {
  // Linux's i8253 clockevent in oneshot mode: 0x38 once, then a new count per event.
  Pc pc;
  linux_pic_init(pc);
  pc.outb(0x43, 0x38);
  auto arm = [&](uint16_t ticks) {
    pc.outb(0x40, uint8_t(ticks));
    pc.outb(0x40, uint8_t(ticks >> 8));
  };
  auto& intc = pc.devices.interrupt_controller();
  arm(1193);  // ~1 ms
  for (unsigned event = 0; event < 5; ++event) {
    uint64_t deadline = UINT64_MAX;
    for (TimedDevice* d : pc.devices.timed_devices()) deadline = std::min(deadline, d->next_deadline_ns());
    REQUIRE(deadline != UINT64_MAX);
    CHECK(deadline - pc.clock.now >= 1000000);
    CHECK(deadline - pc.clock.now < 1002000);
    pc.clock.now = deadline - 1;
    pc.run_timed_devices();
    CHECK_FALSE(intc.has_interrupt());
    pc.clock.now = deadline;
    pc.run_timed_devices();
    REQUIRE(intc.has_interrupt());
    CHECK(intc.acknowledge() == 0x30);
    arm(1193);
    pc.outb(0x20, 0x60);
  }
}
