// 16550A UART driven the way Linux's 8250 driver probes and uses it (drivers/tty/serial/8250/
// 8250_port.c: autoconfig(), serial8250_do_startup(), the THRE re-assertion test).
#include <catch2/catch.hpp>

#include "devices/uart16550.h"
#include "tests/devices/fakes.h"

using namespace btvmm::devices;
using namespace btvmm::devices::testing;

namespace {
constexpr uint16_t kBase = 0x3f8;
enum : uint16_t { RBR = 0, IER = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };

struct Com1 {
  RecordingIrqSink irqs;
  RecordingCharBackend out;
  Uart16550 uart{kBase, 4, irqs, out};
  uint8_t in(uint16_t reg) { return uint8_t(uart.io_read(kBase + reg, 1)); }
  void outb(uint16_t reg, uint8_t v) { uart.io_write(kBase + reg, 1, v); }
};
}  // namespace

TEST_CASE("uart_linux_autoconfig_detects_16550a_with_fifo") {
  Com1 c;
  // IER probe: the low nibble must read back, 0 and then 0x0f.
  c.outb(IER, 0);
  CHECK((c.in(IER) & 0x0f) == 0x00);
  c.outb(IER, 0x0f);
  CHECK((c.in(IER) & 0x0f) == 0x0f);
  c.outb(IER, 0);
  // Loopback probe: MCR = LOOP | OUT2 | RTS must show DCD | CTS in the MSR's upper nibble.
  uint8_t save_mcr = c.in(MCR);
  c.outb(MCR, 0x10 | 0x0a);
  CHECK((c.in(MSR) & 0xf0) == 0x90);
  c.outb(MCR, save_mcr);
  // EFR write with LCR = 0xbf (a plain FCR write on a 16550A), then enable the FIFO.
  c.outb(LCR, 0xbf);
  c.outb(2, 0);
  c.outb(LCR, 0);
  c.outb(FCR, 0x01);
  CHECK(c.in(IIR) >> 6 == 3);  // FIFOs enabled: a 16550A
  // autoconfig_16550a: no EFR under either configuration mode (reads back non-zero IIR).
  c.outb(LCR, 0x80);
  CHECK(c.in(2) != 0);
  c.outb(LCR, 0xbf);
  CHECK(c.in(2) != 0);
  // Not a 16750: IIR bit 5 never sets, with or without DLAB.
  c.outb(LCR, 0);
  c.outb(FCR, 0x21);
  uint8_t status1 = c.in(IIR) >> 5;
  c.outb(FCR, 0x01);
  c.outb(LCR, 0x80);
  c.outb(FCR, 0x21);
  uint8_t status2 = c.in(IIR) >> 5;
  c.outb(FCR, 0x01);
  c.outb(LCR, 0);
  CHECK_FALSE((status1 == 6 && status2 == 7));
  // Not an XScale UART: IER bit 6 (UUE) does not stick.
  c.outb(IER, 0x40);
  CHECK((c.in(IER) & 0x40) == 0);
  // Startup sanity check: LSR is not 0xff, and THRE/TEMT are set on an idle transmitter.
  CHECK(c.in(LSR) == 0x60);
}

TEST_CASE("uart_loopback_returns_transmitted_bytes_to_receiver_not_to_backend") {
  Com1 c;
  c.outb(MCR, 0x10);
  c.outb(RBR, 'x');
  CHECK(c.out.out.empty());
  CHECK((c.in(LSR) & 0x01) == 0x01);
  CHECK(c.in(RBR) == 'x');
  CHECK((c.in(LSR) & 0x01) == 0x00);
  CHECK_FALSE(c.uart.can_receive());  // the line is disconnected in loopback
  c.outb(MCR, 0x00);
  c.outb(RBR, 'y');
  CHECK(c.out.out == "y");
}

TEST_CASE("uart_transmit_goes_to_backend_and_transmitter_stays_empty") {
  Com1 c;
  c.outb(LCR, 0x03);
  for (char ch : std::string("hello\n")) {
    CHECK((c.in(LSR) & 0x60) == 0x60);
    c.outb(RBR, uint8_t(ch));
  }
  CHECK(c.out.out == "hello\n");
}

TEST_CASE("uart_receive_raises_irq4_and_draining_the_fifo_lowers_it") {
  Com1 c;
  c.outb(FCR, 0x07);
  c.outb(MCR, 0x0b);  // DTR | RTS | OUT2, as serial8250_do_startup leaves it
  c.outb(IER, 0x01);
  CHECK_FALSE(c.irqs.levels[4]);
  c.uart.receive('a');
  c.uart.receive('b');
  CHECK(c.irqs.levels[4]);
  CHECK(c.irqs.rising[4] == 1);
  CHECK(c.in(IIR) == 0xc4);  // FIFOs on, trigger level 1 reached: rx data available
  CHECK(c.in(RBR) == 'a');
  CHECK(c.irqs.levels[4]);
  CHECK(c.in(RBR) == 'b');
  CHECK_FALSE(c.irqs.levels[4]);
  CHECK(c.in(IIR) == 0xc1);
}

TEST_CASE("uart_out2_gates_the_interrupt_line_as_on_a_pc") {
  Com1 c;
  c.outb(IER, 0x01);
  c.uart.receive('z');
  CHECK((c.in(IIR) & 0x0f) == 0x04);  // pending inside the UART...
  CHECK_FALSE(c.irqs.levels[4]);      // ...but OUT2 is off, so the PIC sees nothing
  c.outb(MCR, 0x08);
  CHECK(c.irqs.levels[4]);
  c.outb(MCR, 0x18);  // loopback forces OUT2 inactive
  CHECK_FALSE(c.irqs.levels[4]);
}

TEST_CASE("uart_iir_reports_line_status_then_rx_then_thre_then_modem_status") {
  Com1 c;
  // Modem status change: entering and leaving loopback changes CTS/DSR/DCD.
  c.outb(MCR, 0x10);
  c.outb(MCR, 0x08);
  // Overrun without FIFOs: the second byte overwrites the first and sets OE.
  c.uart.receive('1');
  c.uart.receive('2');
  c.outb(IER, 0x0f);  // enabling ETBEI with THR empty raises THRE
  CHECK(c.in(IIR) == 0x06);
  CHECK((c.in(LSR) & 0x03) == 0x03);  // OE | DR, and the read clears OE
  CHECK(c.in(IIR) == 0x04);
  CHECK(c.in(RBR) == '2');
  CHECK(c.in(IIR) == 0x02);  // reading IIR while it shows THRE clears THRE
  CHECK(c.in(IIR) == 0x00);
  CHECK((c.in(MSR) & 0x0f) != 0);  // the deltas, cleared by this read
  CHECK(c.in(IIR) == 0x01);
  CHECK_FALSE(c.irqs.levels[4]);
}

TEST_CASE("uart_thre_interrupt_reasserts_when_etbei_is_enabled_again") {
  // serial8250_do_startup's UART_BUG_THRE test: enable THRI, read IIR, disable, enable, read.
  Com1 c;
  c.outb(MCR, 0x08);
  c.outb(IER, 0x02);
  uint8_t iir1 = c.in(IIR);
  CHECK((iir1 & 0x0f) == 0x02);
  CHECK(c.in(IIR) == 0x01);  // the first read cleared it
  CHECK_FALSE(c.irqs.levels[4]);
  c.outb(IER, 0);
  c.outb(IER, 0x02);
  uint8_t iir = c.in(IIR);
  CHECK((iir & 0x01) == 0);
  CHECK(c.irqs.rising[4] == 2);
  // Writing THR clears THRE; it is pending again once the byte has gone: a new edge.
  c.outb(RBR, '!');
  CHECK(c.irqs.rising[4] == 3);
  c.outb(RBR, '?');
  CHECK(c.irqs.rising[4] == 4);
  CHECK(c.in(IIR) == 0x02);
  CHECK(c.out.out == "!?");
}

TEST_CASE("uart_fifo_holds_16_bytes_and_the_17th_overruns") {
  Com1 c;
  c.outb(FCR, 0x07);
  for (int i = 0; i < 16; ++i) {
    REQUIRE(c.uart.can_receive());
    c.uart.receive(uint8_t('A' + i));
  }
  CHECK_FALSE(c.uart.can_receive());
  c.uart.receive('!');
  CHECK((c.in(LSR) & 0x03) == 0x03);
  CHECK((c.in(LSR) & 0x02) == 0x00);
  for (int i = 0; i < 16; ++i) CHECK(c.in(RBR) == 'A' + i);
  CHECK((c.in(LSR) & 0x01) == 0);
}

TEST_CASE("uart_fcr_trigger_level_separates_rx_timeout_from_rx_data_available") {
  Com1 c;
  c.outb(FCR, 0xc1);  // trigger at 14 bytes
  c.outb(IER, 0x01);
  for (int i = 0; i < 13; ++i) c.uart.receive('.');
  CHECK(c.in(IIR) == 0xcc);
  c.uart.receive('.');
  CHECK(c.in(IIR) == 0xc4);
  c.outb(FCR, 0xc3);  // clear the receive FIFO
  CHECK(c.in(IIR) == 0xc1);
  CHECK((c.in(LSR) & 0x01) == 0);
  c.outb(FCR, 0x00);  // FIFOs off: IIR bits 7-6 clear
  CHECK(c.in(IIR) == 0x01);
}

TEST_CASE("uart_divisor_latch_is_reached_only_with_dlab_set") {
  Com1 c;
  c.outb(LCR, 0x83);
  c.outb(0, 0x01);  // DLL: 115200 baud
  c.outb(1, 0x00);  // DLM
  c.outb(LCR, 0x03);
  c.outb(IER, 0x05);
  c.outb(RBR, 'q');
  CHECK(c.out.out == "q");
  c.outb(LCR, 0x83);
  CHECK(c.in(0) == 0x01);
  CHECK(c.in(1) == 0x00);
  c.outb(LCR, 0x03);
  CHECK(c.in(IER) == 0x05);
}

TEST_CASE("uart_scratch_register_keeps_its_byte") {
  Com1 c;
  c.outb(SCR, 0xa5);
  CHECK(c.in(SCR) == 0xa5);
  c.outb(SCR, 0x5a);
  CHECK(c.in(SCR) == 0x5a);
}

TEST_CASE("uart_modem_status_interrupt_follows_loopback_outputs_and_msr_read_clears_it") {
  Com1 c;
  c.outb(MCR, 0x10);  // loopback, all outputs off
  c.in(MSR);
  c.outb(IER, 0x08);
  c.outb(MCR, 0x11);  // DTR -> DSR
  CHECK(c.in(IIR) == 0x00);
  uint8_t msr = c.in(MSR);
  CHECK((msr & 0x20) == 0x20);  // DSR
  CHECK((msr & 0x02) == 0x02);  // DDSR
  CHECK(c.in(IIR) == 0x01);
  c.outb(MCR, 0x15);  // OUT1 -> RI
  c.outb(MCR, 0x11);  // RI falls: trailing-edge RI delta
  CHECK((c.in(MSR) & 0x04) == 0x04);
}

TEST_CASE("uart_size_fifo_probe_counts_16_bytes_in_loopback") {
  // Linux's size_fifo(): loopback, 256 bytes written, count how many can be read back.
  Com1 c;
  c.outb(LCR, 0);
  uint8_t old_fcr = c.in(IIR);
  c.outb(FCR, 0x07);
  c.outb(MCR, 0x10);
  c.outb(LCR, 0x80);
  c.outb(0, 0x01);
  c.outb(1, 0x00);
  c.outb(LCR, 0x03);
  for (unsigned i = 0; i < 256; ++i) c.outb(RBR, uint8_t(i));
  unsigned count = 0;
  while ((c.in(LSR) & 0x01) && count < 256) {
    CHECK(c.in(RBR) == count);
    ++count;
  }
  CHECK(count == Uart16550::kFifoSize);
  CHECK(c.out.out.empty());
  c.outb(FCR, old_fcr);
  c.outb(MCR, 0);
}
