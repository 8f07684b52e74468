// 16550A UART register model (National Semiconductor PC16550D datasheet, "Registers" and
// "FIFO Interrupt Mode Operation"). Never blocks: transmission completes inside the THR write.
#include "devices/uart16550.h"

#include "core/stats.h"

namespace btvmm::devices {

namespace {
stats::Counter c_tx{"io.uart_tx_bytes", "bytes the guest transmitted on a UART"};
stats::Counter c_rx{"io.uart_rx_bytes", "bytes delivered to a UART receiver"};
stats::Counter c_overruns{"io.uart_rx_overruns", "received bytes lost to a full UART receiver (LSR.OE)"};
stats::Counter c_irqs{"irq.uart_raised", "rising edges of a UART interrupt line"};

// Register offsets from the base port.
enum : unsigned { kRbrThr = 0, kIer = 1, kIirFcr = 2, kLcr = 3, kMcr = 4, kLsr = 5, kMsr = 6, kScr = 7 };

constexpr uint8_t kIerRx = 0x01, kIerThre = 0x02, kIerLine = 0x04, kIerModem = 0x08;
constexpr uint8_t kLcrDlab = 0x80;
constexpr uint8_t kMcrDtr = 0x01, kMcrRts = 0x02, kMcrOut1 = 0x04, kMcrOut2 = 0x08, kMcrLoop = 0x10;
constexpr uint8_t kLsrDr = 0x01, kLsrOe = 0x02, kLsrThre = 0x20, kLsrTemt = 0x40;
constexpr uint8_t kLsrErrors = 0x1e;  // OE, PE, FE, BI
constexpr uint8_t kMsrCts = 0x10, kMsrDsr = 0x20, kMsrRi = 0x40, kMsrDcd = 0x80;

// IIR interrupt identification codes, highest priority first (PC16550D table "Interrupt
// Control Functions").
constexpr uint8_t kIirNone = 0x01, kIirLine = 0x06, kIirRx = 0x04, kIirRxTimeout = 0x0c, kIirThre = 0x02,
                  kIirModem = 0x00;
constexpr uint8_t kIirFifosEnabled = 0xc0;
}  // namespace

Uart16550::Uart16550(uint16_t base, unsigned irq, IrqSink& irqs, CharBackend& out)
    : base_(base), irq_(irq), irqs_(irqs), out_(out) {}

uint32_t Uart16550::io_read(uint16_t port, unsigned) { return read((port - base_) & 7); }

void Uart16550::io_write(uint16_t port, unsigned, uint32_t value) { write((port - base_) & 7, uint8_t(value)); }

bool Uart16550::can_receive() const { return !(mcr_ & kMcrLoop) && rx_count_ < rx_capacity(); }

void Uart16550::receive(uint8_t byte) {
  // In loopback the receiver input is connected to the transmitter, not to the line.
  if (mcr_ & kMcrLoop) return;
  rx_push(byte);
  update_irq();
}

void Uart16550::rx_push(uint8_t byte) {
  if (rx_count_ == rx_capacity()) {
    // 16550D: with FIFOs the character in the shift register is lost; without, the holding
    // register is overwritten. Either way OE is set.
    line_errors_ |= kLsrOe;
    c_overruns.inc();
    if (!fifo_enabled_) rx_[rx_head_] = byte;
    return;
  }
  rx_[(rx_head_ + rx_count_) % kFifoSize] = byte;
  ++rx_count_;
  c_rx.inc();
}

uint8_t Uart16550::rx_pop() {
  if (rx_count_ == 0) return last_rx_;
  last_rx_ = rx_[rx_head_];
  rx_head_ = (rx_head_ + 1) % kFifoSize;
  --rx_count_;
  return last_rx_;
}

uint8_t Uart16550::modem_inputs() const {
  // Loopback wires RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD (16550D, MCR bit 4). Otherwise the
  // line looks like a connected terminal: CTS, DSR and DCD asserted, no ring.
  if (!(mcr_ & kMcrLoop)) return kMsrCts | kMsrDsr | kMsrDcd;
  uint8_t v = 0;
  if (mcr_ & kMcrRts) v |= kMsrCts;
  if (mcr_ & kMcrDtr) v |= kMsrDsr;
  if (mcr_ & kMcrOut1) v |= kMsrRi;
  if (mcr_ & kMcrOut2) v |= kMsrDcd;
  return v;
}

void Uart16550::write_mcr(uint8_t value) {
  uint8_t before = modem_inputs();
  mcr_ = value & 0x1f;  // bits 5-7 are always zero on a 16550A
  uint8_t after = modem_inputs();
  uint8_t changed = before ^ after;
  if (changed & kMsrCts) msr_deltas_ |= 0x01;
  if (changed & kMsrDsr) msr_deltas_ |= 0x02;
  if ((before & kMsrRi) && !(after & kMsrRi)) msr_deltas_ |= 0x04;  // TERI: trailing edge only
  if (changed & kMsrDcd) msr_deltas_ |= 0x08;
}

uint8_t Uart16550::interrupt_id() const {
  if ((ier_ & kIerLine) && (line_errors_ & kLsrErrors)) return kIirLine;
  if ((ier_ & kIerRx) && rx_count_ > 0) {
    // Below the trigger level a real 16550 reports a character timeout after four character
    // times of silence; with no line timing here it is reported at once. Linux's 8250 driver
    // handles both identically (it drains the FIFO while LSR.DR is set).
    return fifo_enabled_ && rx_count_ < rx_trigger_ ? kIirRxTimeout : kIirRx;
  }
  if ((ier_ & kIerThre) && thre_pending_) return kIirThre;
  if ((ier_ & kIerModem) && (msr_deltas_ & 0x0f)) return kIirModem;
  return kIirNone;
}

void Uart16550::update_irq() {
  // On a PC the UART's INTR pin reaches the PIC only through a gate driven by OUT2. In
  // loopback the OUT pins are forced inactive (16550D, MCR bit 4), so the line is off too.
  bool level = interrupt_id() != kIirNone && (mcr_ & kMcrOut2) && !(mcr_ & kMcrLoop);
  if (level == irq_level_) return;
  irq_level_ = level;
  if (level) c_irqs.inc();
  irqs_.set_irq(irq_, level);
}

uint8_t Uart16550::read(unsigned reg) {
  bool dlab = lcr_ & kLcrDlab;
  uint8_t v = 0;
  switch (reg) {
    case kRbrThr:
      if (dlab) return dll_;
      v = rx_pop();
      break;
    case kIer:
      return dlab ? dlm_ : ier_;
    case kIirFcr: {
      // A 16550A has no EFR: with DLAB set this is still the IIR, which is how Linux tells it
      // apart from the 16650 family. Bit 5 (64-byte FIFO, 16750) stays clear.
      uint8_t id = interrupt_id();
      v = id | (fifo_enabled_ ? kIirFifosEnabled : 0);
      // Reading IIR while it reports THRE clears that interrupt (16550D, table "Interrupt
      // Control Functions"); Linux's THRE re-assertion test depends on it.
      if (id == kIirThre) thre_pending_ = false;
      break;
    }
    case kLcr:
      return lcr_;
    case kMcr:
      return mcr_;
    case kLsr:
      v = (rx_count_ ? kLsrDr : 0) | line_errors_ | kLsrThre | kLsrTemt;
      line_errors_ = 0;
      break;
    case kMsr:
      v = modem_inputs() | msr_deltas_;
      msr_deltas_ = 0;
      break;
    case kScr:
      return scr_;
  }
  update_irq();
  return v;
}

void Uart16550::write(unsigned reg, uint8_t value) {
  bool dlab = lcr_ & kLcrDlab;
  switch (reg) {
    case kRbrThr:
      if (dlab) {
        dll_ = value;
        return;
      }
      // Writing THR clears the THRE interrupt; the byte then moves to the shift register at
      // once, so THR is empty again and THRE re-asserts: the line drops and rises, a fresh
      // edge, as a real UART gives when its FIFO drains (what Linux's tx path waits for).
      thre_pending_ = false;
      update_irq();
      if (mcr_ & kMcrLoop) {
        rx_push(value);
      } else {
        out_.write(value);
        c_tx.inc();
      }
      thre_pending_ = true;
      break;
    case kIer: {
      if (dlab) {
        dlm_ = value;
        return;
      }
      uint8_t old = ier_;
      ier_ = value & 0x0f;  // bits 4-7 read as zero on a 16550A (Linux probes this)
      // Enabling ETBEI while THR is empty raises THRE at once; disabling it drops it.
      if (!(old & kIerThre) && (ier_ & kIerThre)) thre_pending_ = true;
      if (!(ier_ & kIerThre)) thre_pending_ = false;
      break;
    }
    case kIirFcr: {
      bool enable = value & 0x01;
      // Changing the enable bit clears both FIFOs; other bits only count while it is set.
      if (enable != fifo_enabled_) rx_clear();
      fifo_enabled_ = enable;
      if (enable) {
        if (value & 0x02) rx_clear();
        static constexpr unsigned kTriggers[4] = {1, 4, 8, 14};
        rx_trigger_ = kTriggers[value >> 6];
      }
      break;
    }
    case kLcr:
      lcr_ = value;
      return;
    case kMcr:
      write_mcr(value);
      break;
    case kLsr:
    case kMsr:
      return;  // read-only (factory test registers on some parts)
    case kScr:
      scr_ = value;
      return;
  }
  update_irq();
}

}  // namespace btvmm::devices
