// 8259A programmable interrupt controller pair (Intel 8259A datasheet, order no. 231468:
// "Initialization Command Words", "Operation Command Words", "The Fully Nested Mode").
// Only models what a PC wires: x86 mode, master/slave on IR2, ELCR as on PIIX-class chipsets.
#include "devices/pic8259.h"

#include "core/stats.h"

namespace btvmm::devices {

namespace {
stats::Counter c_acks{"irq.pic_acks", "interrupt acknowledge cycles answered by the PIC pair"};
stats::Counter c_spurious{"irq.pic_spurious", "acknowledges that found no request (spurious IRQ 7/15)"};
stats::Counter c_eois{"irq.pic_eois", "end-of-interrupt commands (OCW2)"};

constexpr unsigned kCascadeInput = 2;  // PC/AT wiring: the slave's INT drives master IR2
}  // namespace

int Pic8259Pair::Chip::highest(uint8_t mask) const {
  for (unsigned k = 0; k < 8; ++k) {
    unsigned input = (lowest + 1 + k) & 7;
    if (mask & (1u << input)) return int(input);
  }
  return -1;
}

int Pic8259Pair::Chip::output(bool is_master) const {
  int req = highest(irr & ~imr);
  if (req < 0) return -1;
  uint8_t in_service = isr;
  // Special mask mode: masked inputs no longer block lower priorities (datasheet, OCW3).
  if (special_mask) in_service &= ~imr;
  // Special fully nested mode: the master lets a higher-priority slave request through even
  // while the cascade input is in service.
  if (is_master && special_fully_nested) in_service &= ~(1u << kCascadeInput);
  int cur = highest(in_service);
  if (cur < 0) return req;
  auto rank = [this](int input) { return (unsigned(input) - lowest - 1) & 7; };
  return rank(req) < rank(cur) ? req : -1;
}

void Pic8259Pair::Chip::set_input(unsigned input, bool level) {
  uint8_t bit = uint8_t(1u << input);
  if (level_triggered(input)) {
    if (level) irr |= bit; else irr &= ~bit;
  } else if (level && !(lines & bit)) {
    irr |= bit;  // edge mode: latch the rising edge; a falling edge does not withdraw it
  }
  if (level) lines |= bit; else lines &= ~bit;
}

void Pic8259Pair::Chip::ack(unsigned input) {
  uint8_t bit = uint8_t(1u << input);
  if (!level_triggered(input)) irr &= ~bit;
  if (auto_eoi) {
    if (rotate_on_aeoi) lowest = uint8_t(input);
  } else {
    isr |= bit;
  }
}

void Pic8259Pair::Chip::write_command(uint8_t value) {
  if (value & 0x10) {
    // ICW1 resets the chip: IMR and ISR cleared, IR0 highest priority, special mask off,
    // IRR selected for reads; the edge-sense latch is reset, so an edge input already high
    // must go low and high again before it requests service.
    irr = 0;
    for (unsigned i = 0; i < 8; ++i)
      if ((lines & (1u << i)) && ((value & 0x08) || (elcr & (1u << i)))) irr |= uint8_t(1u << i);
    isr = imr = 0;
    lowest = 7;
    special_mask = read_isr = poll = false;
    auto_eoi = rotate_on_aeoi = special_fully_nested = false;
    ltim = value & 0x08;
    single = value & 0x02;
    need_icw4 = value & 0x01;
    init_step = 2;
    return;
  }
  if (value & 0x08) {  // OCW3
    if (value & 0x04) poll = true;
    if (value & 0x02) read_isr = value & 0x01;
    if (value & 0x40) special_mask = value & 0x20;
    return;
  }
  // OCW2: R, SL, EOI in bits 7-5, level in bits 2-0.
  unsigned level = value & 7;
  switch (value >> 5) {
    case 0: rotate_on_aeoi = false; break;
    case 4: rotate_on_aeoi = true; break;
    case 1:    // non-specific EOI
    case 5: {  // rotate on non-specific EOI
      c_eois.inc();
      int cur = highest(isr);
      if (cur < 0) break;
      isr &= uint8_t(~(1u << cur));
      if (value >> 5 == 5) lowest = uint8_t(cur);
      break;
    }
    case 3:  // specific EOI
    case 7:  // rotate on specific EOI
      c_eois.inc();
      isr &= uint8_t(~(1u << level));
      if (value >> 5 == 7) lowest = uint8_t(level);
      break;
    case 6: lowest = uint8_t(level); break;  // set priority
    default: break;                          // 2: no operation
  }
}

void Pic8259Pair::Chip::write_data(uint8_t value) {
  switch (init_step) {
    case 2:  // ICW2: vector base; in x86 mode bits 2-0 come from the input number
      vector_base = value & 0xf8;
      init_step = single ? (need_icw4 ? 4 : 0) : 3;
      break;
    case 3:  // ICW3: cascade wiring (fixed on a PC, recorded only)
      icw3 = value;
      init_step = need_icw4 ? 4 : 0;
      break;
    case 4:  // ICW4: AEOI bit 1, SFNM bit 4; uPM (bit 0) is assumed set (x86 mode)
      auto_eoi = value & 0x02;
      special_fully_nested = value & 0x10;
      init_step = 0;
      break;
    default:  // OCW1
      imr = value;
      break;
  }
}

uint8_t Pic8259Pair::Chip::read_command() {
  if (poll) {
    // Poll command (OCW3 P=1): the next read acknowledges the highest request as an INTA
    // would and returns 0x80 | level, or 0 when nothing is requesting.
    poll = false;
    int req = highest(irr & ~imr);
    if (req < 0) return 0;
    ack(unsigned(req));
    return uint8_t(0x80 | req);
  }
  return read_isr ? isr : irr;
}

Pic8259Pair::Pic8259Pair() {
  // PIIX ELCR: IRQ 0, 1, 2, 8 and 13 are always edge triggered.
  chips_[0].elcr_mask = 0xf8;
  chips_[1].elcr_mask = 0xde;
}

void Pic8259Pair::update_cascade() { chips_[0].set_input(kCascadeInput, chips_[1].output(false) >= 0); }

void Pic8259Pair::set_irq(unsigned irq, bool level) {
  if (irq >= 16 || irq == kCascadeInput) return;
  chips_[irq >> 3].set_input(irq & 7, level);
  update_cascade();
}

bool Pic8259Pair::has_interrupt() const { return chips_[0].output(true) >= 0; }

uint8_t Pic8259Pair::acknowledge() {
  c_acks.inc();
  Chip& master = chips_[0];
  Chip& slave = chips_[1];
  uint8_t vector;
  int input = master.output(true);
  if (input < 0) {
    // The request went away between INTR and INTA: the 8259A answers with IR7's vector and
    // sets no ISR bit (datasheet, "Interrupt Sequence").
    c_spurious.inc();
    vector = master.vector_base | 7;
  } else {
    master.ack(unsigned(input));
    if (unsigned(input) == kCascadeInput) {
      int sinput = slave.output(false);
      if (sinput < 0) {
        c_spurious.inc();
        vector = slave.vector_base | 7;
      } else {
        slave.ack(unsigned(sinput));
        vector = uint8_t(slave.vector_base | sinput);
      }
    } else {
      vector = uint8_t(master.vector_base | input);
    }
  }
  update_cascade();
  return vector;
}

uint32_t Pic8259Pair::io_read(uint16_t port, unsigned) {
  switch (port) {
    case 0x20: case 0xa0: {
      uint8_t v = chips_[port >> 7].read_command();
      update_cascade();
      return v;
    }
    case 0x21: case 0xa1: return chips_[port >> 7].imr;
    case 0x4d0: return chips_[0].elcr;
    case 0x4d1: return chips_[1].elcr;
    default: return 0xff;
  }
}

void Pic8259Pair::io_write(uint16_t port, unsigned, uint32_t value) {
  uint8_t v = uint8_t(value);
  switch (port) {
    case 0x20: case 0xa0: chips_[port >> 7].write_command(v); break;
    case 0x21: case 0xa1: chips_[port >> 7].write_data(v); break;
    case 0x4d0: case 0x4d1: {
      Chip& c = chips_[port & 1];
      c.elcr = v & c.elcr_mask;
      break;
    }
    default: return;
  }
  update_cascade();
}

}  // namespace btvmm::devices
