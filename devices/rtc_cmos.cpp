// MC146818A RTC (Motorola MC146818A datasheet: "Address Map", "Register A-D", "Update Cycle")
// and the PC/AT CMOS layout (IBM PC/AT Technical Reference, "CMOS RAM Address Map").
// Time registers are computed from the wall clock on each read; they are never stored stale.
#include "devices/rtc_cmos.h"

#include <algorithm>

#include "core/stats.h"

namespace btvmm::devices {

namespace {
stats::Counter c_reads{"io.rtc_reads", "reads of the CMOS/RTC data port (0x71)"};
stats::Counter c_irqs{"irq.rtc_raised", "rising edges of the RTC interrupt line (IRQ 8)"};

constexpr int64_t kNsPerSec = 1000000000;
constexpr int64_t kUipWindowNs = 244000;  // datasheet: UIP rises 244 us before the update

enum : uint8_t {
  kSeconds = 0x00, kSecondsAlarm = 0x01, kMinutes = 0x02, kMinutesAlarm = 0x03, kHours = 0x04,
  kHoursAlarm = 0x05, kDayOfWeek = 0x06, kDayOfMonth = 0x07, kMonth = 0x08, kYear = 0x09,
  kStatusA = 0x0a, kStatusB = 0x0b, kStatusC = 0x0c, kStatusD = 0x0d, kCentury = 0x32,
};
constexpr uint8_t kBSet = 0x80, kBPie = 0x40, kBAie = 0x20, kBUie = 0x10, kBBinary = 0x04, kB24h = 0x02;
constexpr uint8_t kCIrqf = 0x80, kCPf = 0x40, kCAf = 0x20, kCUf = 0x10;

int64_t floor_div(int64_t a, int64_t b) { return a / b - (a % b < 0 ? 1 : 0); }
}  // namespace

int64_t RtcCmos::host_wall_clock_ns() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t(ts.tv_sec) * kNsPerSec + ts.tv_nsec;
}

RtcCmos::RtcCmos(const Clock& clock, IrqSink& irqs, WallClock wall)
    : clock_(clock), irqs_(irqs), wall_(std::move(wall)) {
  ram_[kStatusA] = 0x26;  // 32.768 kHz time base, 1024 Hz periodic rate
  ram_[kStatusB] = kB24h;
  ram_[kStatusD] = 0x80;  // VRT: RAM and time valid
  last_second_ = floor_div(guest_wall_ns(), kNsPerSec);
  next_periodic_ = clock_.now_ns() + periodic_ns();
}

void RtcCmos::set_memory_size(uint64_t ram_bytes) {
  constexpr uint64_t kMiB = 1 << 20;
  uint64_t base_kb = std::min<uint64_t>(640, ram_bytes / 1024);
  uint64_t ext_kb = ram_bytes > kMiB ? std::min<uint64_t>((ram_bytes - kMiB) / 1024, 0xffff) : 0;
  uint64_t above16 = ram_bytes > 16 * kMiB ? std::min<uint64_t>((ram_bytes - 16 * kMiB) / 65536, 0xffff) : 0;
  ram_[0x15] = uint8_t(base_kb);
  ram_[0x16] = uint8_t(base_kb >> 8);
  ram_[0x17] = ram_[0x30] = uint8_t(ext_kb);  // 0x30/0x31 are the POST-verified copy
  ram_[0x18] = ram_[0x31] = uint8_t(ext_kb >> 8);
  ram_[0x34] = uint8_t(above16);  // 64 KiB blocks above 16 MiB (BIOS convention)
  ram_[0x35] = uint8_t(above16 >> 8);
  unsigned sum = 0;
  for (unsigned i = 0x10; i <= 0x2d; ++i) sum += ram_[i];
  ram_[0x2e] = uint8_t(sum >> 8);
  ram_[0x2f] = uint8_t(sum);
}

std::tm RtcCmos::current_time() const {
  if (held_) return held_time_;
  time_t secs = time_t(floor_div(guest_wall_ns(), kNsPerSec));
  std::tm t{};
  gmtime_r(&secs, &t);
  return t;
}

bool RtcCmos::binary() const { return ram_[kStatusB] & kBBinary; }

uint8_t RtcCmos::encode(int v) const { return binary() ? uint8_t(v) : uint8_t((v / 10) << 4 | v % 10); }

int RtcCmos::decode(uint8_t v) const { return binary() ? v : (v >> 4) * 10 + (v & 0x0f); }

uint8_t RtcCmos::encode_hour(int hour) const {
  if (ram_[kStatusB] & kB24h) return encode(hour);
  // 12-hour mode: 1-12 with bit 7 set for PM.
  int h12 = hour % 12 == 0 ? 12 : hour % 12;
  return uint8_t(encode(h12) | (hour >= 12 ? 0x80 : 0));
}

uint64_t RtcCmos::periodic_ns() const {
  // Register A: the divider (bits 6-4) must be 010 for the 32.768 kHz base to run; rate r in
  // bits 3-0 gives 32768 >> (r - 1) Hz, with r = 1, 2 aliasing 8, 9; r = 0 disables.
  uint8_t a = ram_[kStatusA];
  unsigned r = a & 0x0f;
  if (r == 0 || (a & 0x70) != 0x20) return 0;
  if (r < 3) r += 7;
  return (uint64_t(1) << (r - 1)) * uint64_t(kNsPerSec) / 32768;
}

void RtcCmos::catch_up(uint64_t now_ns) {
  if (uint64_t p = periodic_ns()) {
    if (now_ns >= next_periodic_) {
      flags_ |= kCPf;
      next_periodic_ += p * ((now_ns - next_periodic_) / p + 1);
    }
  }
  if (!held_) {
    int64_t second = floor_div(guest_wall_ns(), kNsPerSec);
    if (second != last_second_) {
      last_second_ = second;
      flags_ |= kCUf;
      // Alarm: each alarm byte matches its field or is "don't care" (0xc0-0xff).
      std::tm t = current_time();
      auto match = [&](uint8_t alarm, uint8_t value) { return (alarm & 0xc0) == 0xc0 || alarm == value; };
      if (match(ram_[kSecondsAlarm], encode(t.tm_sec)) && match(ram_[kMinutesAlarm], encode(t.tm_min)) &&
          match(ram_[kHoursAlarm], encode_hour(t.tm_hour)))
        flags_ |= kCAf;
    }
  }
  update_irq();
}

void RtcCmos::update_irq() {
  bool level = flags_ & ram_[kStatusB] & (kCPf | kCAf | kCUf);
  if (level == irq_level_) return;
  irq_level_ = level;
  if (level) c_irqs.inc();
  irqs_.set_irq(kIrq, level);
}

uint64_t RtcCmos::next_deadline_ns() const {
  uint64_t next = UINT64_MAX;
  uint8_t b = ram_[kStatusB];
  if ((b & kBPie) && periodic_ns()) next = next_periodic_;
  if ((b & (kBUie | kBAie)) && !held_) {
    int64_t w = guest_wall_ns();
    int64_t to_next_second = kNsPerSec - (w - floor_div(w, kNsPerSec) * kNsPerSec);
    next = std::min(next, clock_.now_ns() + uint64_t(to_next_second));
  }
  return next;
}

void RtcCmos::poll(uint64_t now_ns) { catch_up(now_ns); }

uint8_t RtcCmos::read_register(uint8_t index) {
  std::tm t{};
  switch (index) {
    case kSeconds: case kMinutes: case kHours: case kDayOfWeek: case kDayOfMonth: case kMonth: case kYear:
    case kCentury:
      t = current_time();
      break;
    default:
      break;
  }
  switch (index) {
    case kSeconds: return encode(t.tm_sec);
    case kMinutes: return encode(t.tm_min);
    case kHours: return encode_hour(t.tm_hour);
    case kDayOfWeek: return encode(t.tm_wday + 1);  // 1 = Sunday
    case kDayOfMonth: return encode(t.tm_mday);
    case kMonth: return encode(t.tm_mon + 1);
    case kYear: return encode(t.tm_year % 100);
    case kCentury: return encode((t.tm_year + 1900) / 100);
    case kStatusA: {
      int64_t w = guest_wall_ns();
      bool uip = !held_ && w - floor_div(w, kNsPerSec) * kNsPerSec >= kNsPerSec - kUipWindowNs;
      return uint8_t((ram_[kStatusA] & 0x7f) | (uip ? 0x80 : 0));
    }
    case kStatusC: {
      // Reading C returns and clears the flags, which drops IRQ 8.
      catch_up(clock_.now_ns());
      uint8_t v = flags_ | ((flags_ & ram_[kStatusB] & 0x70) ? kCIrqf : 0);
      flags_ = 0;
      update_irq();
      return v;
    }
    default: return ram_[index];
  }
}

void RtcCmos::commit_time(std::tm t) {
  int64_t secs = int64_t(timegm(&t));
  int64_t w = guest_wall_ns();
  int64_t sub = w - floor_div(w, kNsPerSec) * kNsPerSec;
  offset_ns_ += secs * kNsPerSec + sub - w;
  last_second_ = secs;
}

void RtcCmos::write_time_field(uint8_t index, uint8_t value) {
  std::tm t = current_time();
  switch (index) {
    case kSeconds: t.tm_sec = decode(value); break;
    case kMinutes: t.tm_min = decode(value); break;
    case kHours:
      if (ram_[kStatusB] & kB24h) t.tm_hour = decode(value);
      else t.tm_hour = decode(value & 0x7f) % 12 + (value & 0x80 ? 12 : 0);
      break;
    case kDayOfMonth: t.tm_mday = decode(value); break;
    case kMonth: t.tm_mon = decode(value) - 1; break;
    case kYear: t.tm_year = (t.tm_year + 1900) / 100 * 100 + decode(value) - 1900; break;
    case kCentury: t.tm_year = decode(value) * 100 + (t.tm_year + 1900) % 100 - 1900; break;
    default: return;  // day of week follows from the date
  }
  // While SET is held the guest writes several fields; commit them together when it clears,
  // so an intermediate date (31 February) is never normalised.
  if (held_) held_time_ = t;
  else commit_time(t);
}

void RtcCmos::write_register(uint8_t index, uint8_t value) {
  switch (index) {
    case kSeconds: case kMinutes: case kHours: case kDayOfWeek: case kDayOfMonth: case kMonth: case kYear:
    case kCentury:
      write_time_field(index, value);
      return;
    case kStatusA: {
      bool rate_changed = (ram_[kStatusA] ^ value) & 0x7f;
      ram_[kStatusA] = value & 0x7f;  // UIP is read-only
      if (rate_changed) next_periodic_ = clock_.now_ns() + periodic_ns();
      return;
    }
    case kStatusB: {
      uint8_t old = ram_[kStatusB];
      if ((value & kBSet) && !(old & kBSet)) {
        held_time_ = current_time();
        held_ = true;
      }
      ram_[kStatusB] = value;
      if (!(value & kBSet) && (old & kBSet)) {
        held_ = false;
        commit_time(held_time_);
      }
      update_irq();
      return;
    }
    case kStatusC: case kStatusD: return;  // read-only
    default: ram_[index] = value; return;
  }
}

uint32_t RtcCmos::io_read(uint16_t port, unsigned) {
  if ((port & 1) == 0) return 0xff;  // the index register is write-only
  c_reads.inc();
  return read_register(index_);
}

void RtcCmos::io_write(uint16_t port, unsigned, uint32_t value) {
  if ((port & 1) == 0) {
    nmi_disabled_ = value & 0x80;
    index_ = value & 0x7f;
    return;
  }
  write_register(index_, uint8_t(value));
}

}  // namespace btvmm::devices
