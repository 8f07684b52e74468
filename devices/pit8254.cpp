// 8254 PIT (Intel 8254 datasheet, order no. 231164: "Modes", "Read-Back Command", "Counter
// Latch Command"). Counting is derived from Clock time; BCD counts are converted, never
// trusted to be valid digits. Never raises more than one IRQ 0 edge per poll().
#include "devices/pit8254.h"

#include "core/stats.h"

namespace btvmm::devices {

namespace {
stats::Counter c_ticks{"irq.pit_ticks", "IRQ 0 edges raised by PIT channel 0"};
stats::Counter c_coalesced{"pit.coalesced_ticks", "PIT channel 0 periods merged into one IRQ 0 edge after a late poll"};
stats::Counter c_accesses{"io.pit_accesses", "port accesses to the PIT (0x40-0x43)"};

constexpr uint64_t kNsPerSec = 1000000000ull;

uint64_t ns_to_ticks(uint64_t ns) {
  return uint64_t((unsigned __int128)ns * Pit8254::kFrequencyHz / kNsPerSec);
}

// Smallest duration after which ns_to_ticks() has reached `ticks`.
uint64_t ticks_to_ns_ceil(uint64_t ticks) {
  unsigned __int128 n = (unsigned __int128)ticks * kNsPerSec + Pit8254::kFrequencyHz - 1;
  return uint64_t(n / Pit8254::kFrequencyHz);
}

uint32_t to_bcd(uint32_t v) {
  v %= 10000;
  return (v / 1000) << 12 | (v / 100 % 10) << 8 | (v / 10 % 10) << 4 | v % 10;
}

uint32_t from_bcd(uint32_t raw) {
  return ((raw >> 12 & 0xf) * 1000 + (raw >> 8 & 0xf) * 100 + (raw >> 4 & 0xf) * 10 + (raw & 0xf)) % 10000;
}
}  // namespace

Pit8254::Pit8254(const Clock& clock, IrqSink& irqs) : clock_(clock), irqs_(irqs) {}

uint64_t Pit8254::elapsed_ticks(const Channel& c, uint64_t now_ns) const {
  if (c.paused || now_ns < c.start_ns) return c.tick_base;
  return c.tick_base + ns_to_ticks(now_ns - c.start_ns);
}

uint32_t Pit8254::period(const Channel& c) const { return c.count ? c.count : modulus(c); }

bool Pit8254::counting(const Channel& c) const {
  return c.loaded && ((c.mode != 1 && c.mode != 5) || c.triggered);
}

uint32_t Pit8254::count_at(const Channel& c, uint64_t t) const {
  uint32_t m = modulus(c);
  if (!counting(c)) return c.count % m;
  uint32_t p = period(c);
  switch (c.mode) {
    case 2:
      return (p - uint32_t(t % p)) % m;
    case 3: {
      // Decrements by two, reloading at each half period; odd counts load N-1 (datasheet, mode 3).
      uint32_t r = uint32_t(t % p), high = (p + 1) / 2;
      uint32_t v = r < high ? p - 2 * r : p - 2 * (r - high);
      return (v & ~1u) % m;
    }
    default: {  // 0, 1, 4, 5 count down once and then wrap around
      int64_t v = int64_t(c.count % m) - int64_t(t % m);
      return uint32_t(v < 0 ? v + m : v);
    }
  }
}

bool Pit8254::out_at(const Channel& c, uint64_t t) const {
  if (!c.loaded) return c.mode != 0;  // after a control word: mode 0 OUT low, others high
  uint32_t p = period(c);
  switch (c.mode) {
    case 0: return t >= p;
    case 1: return !c.triggered || t >= p;
    case 2: return !c.gate || t % p != p - 1;  // low for the one tick at count 1
    case 3: return !c.gate || t % p < (p + 1) / 2;
    case 4: return t != p;                      // one-tick strobe at terminal count
    default: return !c.triggered || t != p;     // 5
  }
}

uint64_t Pit8254::rising_edges(const Channel& c, uint64_t t) const {
  if (!counting(c)) return 0;
  uint64_t p = period(c);
  switch (c.mode) {
    case 2: case 3: return t / p;
    case 4: case 5: return t >= p + 1 ? 1 : 0;
    default: return t >= p ? 1 : 0;
  }
}

uint64_t Pit8254::edge_tick(const Channel& c, uint64_t n) const {
  uint64_t p = period(c);
  switch (c.mode) {
    case 2: case 3: return n * p;
    case 4: case 5: return n == 1 ? p + 1 : UINT64_MAX;
    default: return n == 1 ? p : UINT64_MAX;
  }
}

bool Pit8254::output(unsigned channel) const {
  const Channel& c = channels_[channel];
  return out_at(c, elapsed_ticks(c, clock_.now_ns()));
}

uint64_t Pit8254::next_deadline_ns() const {
  const Channel& c = channels_[0];
  if (!counting(c) || c.paused) return UINT64_MAX;
  uint64_t tick = edge_tick(c, c.edges_delivered + 1);
  if (tick == UINT64_MAX) return UINT64_MAX;
  if (tick <= c.tick_base) return c.start_ns;
  return c.start_ns + ticks_to_ns_ceil(tick - c.tick_base);
}

void Pit8254::poll(uint64_t now_ns) {
  Channel& c = channels_[0];
  uint64_t total = rising_edges(c, elapsed_ticks(c, now_ns));
  if (total <= c.edges_delivered) return;
  c_coalesced.inc(total - c.edges_delivered - 1);
  c.edges_delivered = total;
  c_ticks.inc();
  // IRQ 0 is edge triggered at the PIC: one rising edge per poll, however many periods passed.
  irqs_.set_irq(0, true);
  irqs_.set_irq(0, false);
}

void Pit8254::restart(Channel& c) {
  c.start_ns = clock_.now_ns();
  c.tick_base = 0;
  c.edges_delivered = 0;
  // A low gate holds modes 0, 2, 3 and 4; modes 1 and 5 wait for its rising edge instead.
  c.paused = !c.gate && c.mode != 1 && c.mode != 5;
}

void Pit8254::set_gate(unsigned channel, bool high) {
  Channel& c = channels_[channel];
  if (c.gate == high) return;
  uint64_t now = clock_.now_ns();
  c.gate = high;
  if (!c.loaded) return;
  switch (c.mode) {
    case 0: case 4:  // gate low suspends counting, high resumes it
    case 2: case 3:  // gate low stops counting, the rising edge reloads the counter
      if (!high) {
        c.tick_base = elapsed_ticks(c, now);
        c.paused = true;
      } else if (c.mode == 0 || c.mode == 4) {
        c.start_ns = now;
        c.paused = false;
      } else {
        restart(c);
      }
      break;
    default:  // 1, 5: the rising edge (re)triggers
      if (high) {
        c.triggered = true;
        restart(c);
      }
      break;
  }
}

void Pit8254::load(Channel& c, uint32_t raw) {
  c.count = c.bcd ? from_bcd(raw) : raw;
  c.loaded = true;
  c.null_count = false;  // loaded into the counting element at once (no CLK delay modelled)
  restart(c);
}

uint8_t Pit8254::status(const Channel& c, uint64_t now_ns) const {
  return uint8_t((out_at(c, elapsed_ticks(c, now_ns)) ? 0x80 : 0) | (c.null_count ? 0x40 : 0) | c.access << 4 |
                 c.mode << 1 | (c.bcd ? 1 : 0));
}

void Pit8254::control_word(uint8_t value) {
  uint64_t now = clock_.now_ns();
  unsigned sc = value >> 6;
  if (sc == 3) {
    // Read-back: bit 5 clear latches counts, bit 4 clear latches status, bits 3-1 select.
    for (unsigned ch = 0; ch < 3; ++ch) {
      if (!(value & (2u << ch))) continue;
      Channel& c = channels_[ch];
      if (!(value & 0x10) && !c.status_latched) {
        c.latched_status = status(c, now);
        c.status_latched = true;
      }
      if (!(value & 0x20) && !c.count_latched) {
        c.latched_count = uint16_t(count_at(c, elapsed_ticks(c, now)));
        c.count_latched = true;
        c.read_msb_next = false;
      }
    }
    return;
  }
  Channel& c = channels_[sc];
  unsigned rw = (value >> 4) & 3;
  if (rw == 0) {  // counter latch command; a second latch before the read is ignored
    if (!c.count_latched) {
      c.latched_count = uint16_t(count_at(c, elapsed_ticks(c, now)));
      c.count_latched = true;
      c.read_msb_next = false;
    }
    return;
  }
  c.access = uint8_t(rw);
  c.mode = (value >> 1) & 7;
  if (c.mode > 5) c.mode -= 4;  // 6 and 7 are aliases of modes 2 and 3
  c.bcd = value & 1;
  c.loaded = false;
  c.triggered = false;
  c.paused = false;
  c.null_count = true;
  c.write_msb_next = c.read_msb_next = false;
  c.count_latched = c.status_latched = false;
  c.edges_delivered = 0;
}

void Pit8254::write_count(Channel& c, uint8_t value) {
  switch (c.access) {
    case 1: load(c, value); break;
    case 2: load(c, uint32_t(value) << 8); break;
    default:
      if (!c.write_msb_next) {
        c.write_lsb = value;
        c.write_msb_next = true;
        // Mode 0: writing the first byte stops the count and sets OUT low (datasheet, mode 0).
        if (c.mode == 0) c.loaded = false;
      } else {
        c.write_msb_next = false;
        load(c, c.write_lsb | uint32_t(value) << 8);
      }
      break;
  }
}

uint8_t Pit8254::read_count(Channel& c) {
  if (c.status_latched) {
    c.status_latched = false;
    return c.latched_status;
  }
  uint32_t v = c.count_latched ? c.latched_count : count_at(c, elapsed_ticks(c, clock_.now_ns()));
  if (c.bcd) v = to_bcd(v);
  bool msb;
  switch (c.access) {
    case 1: msb = false; break;
    case 2: msb = true; break;
    default:
      msb = c.read_msb_next;
      c.read_msb_next = !c.read_msb_next;
      break;
  }
  if (c.count_latched && (c.access != 3 || msb)) c.count_latched = false;
  return uint8_t(msb ? v >> 8 : v);
}

uint32_t Pit8254::io_read(uint16_t port, unsigned) {
  c_accesses.inc();
  unsigned reg = port & 3;
  if (reg == 3) return 0xff;  // the control register is write-only
  return read_count(channels_[reg]);
}

void Pit8254::io_write(uint16_t port, unsigned, uint32_t value) {
  c_accesses.inc();
  unsigned reg = port & 3;
  if (reg == 3) {
    control_word(uint8_t(value));
  } else {
    write_count(channels_[reg], uint8_t(value));
  }
}

}  // namespace btvmm::devices
