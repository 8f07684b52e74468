// A segment or gate descriptor as it sits in the GDT/LDT/IDT (Intel SDM vol. 3 3.4.5, 5.8.3,
// 6.11): decoding of its fields, and conversion to the cached form of a segment register.
// Decoding only: never reads guest memory (segments.h fetches descriptors).
#pragma once

#include <cstdint>

#include "runtime/vcpu_state.h"

namespace btvmm::runtime {

// System descriptor types (S = 0, SDM vol. 3 table 3-2, 32-bit forms).
enum SystemType : uint8_t {
  kTss16Avail = 1, kLdt = 2, kTss16Busy = 3, kCallGate16 = 4, kTaskGate = 5, kIntGate16 = 6,
  kTrapGate16 = 7, kTss32Avail = 9, kTss32Busy = 11, kCallGate32 = 12, kIntGate32 = 14, kTrapGate32 = 15,
};

struct Descriptor {
  uint32_t lo = 0;
  uint32_t hi = 0;

  uint8_t type() const { return (hi >> 8) & 0xf; }
  bool s() const { return hi & (1u << 12); }
  uint8_t dpl() const { return (hi >> 13) & 3; }
  bool present() const { return hi & (1u << 15); }
  bool db() const { return hi & (1u << 22); }
  bool g() const { return hi & (1u << 23); }
  uint32_t base() const { return (lo >> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000); }
  uint32_t raw_limit() const { return (lo & 0xffff) | (hi & 0x000f0000); }
  // Byte-granular limit: with G set the 20-bit limit counts 4 KiB units (SDM vol. 3 3.4.5).
  uint32_t limit() const { return g() ? (raw_limit() << 12) | 0xfff : raw_limit(); }

  bool is_code() const { return s() && (type() & 8); }
  bool is_data() const { return s() && !(type() & 8); }
  bool conforming() const { return is_code() && (type() & 4); }
  bool readable() const { return is_data() || (type() & 2); }   // code: R bit
  bool writable() const { return is_data() && (type() & 2); }
  bool expand_down() const { return is_data() && (type() & 4); }
  bool accessed() const { return s() && (type() & 1); }

  // Gate fields (SDM vol. 3 figure 5-8, 6-2).
  uint16_t gate_selector() const { return uint16_t(lo >> 16); }
  uint32_t gate_offset() const { return (lo & 0xffff) | (hi & 0xffff0000); }
  uint8_t gate_param_count() const { return hi & 0x1f; }

  // Access-rights packing of SegmentCache::attrs (bits 40-47 and 52-55 of the descriptor).
  uint32_t attrs() const { return ((hi >> 8) & 0xff) | (hi & 0x00f00000) >> 8; }
};

inline SegmentCache make_segment_cache(uint16_t selector, const Descriptor& d) {
  SegmentCache c;
  c.selector = selector;
  c.attrs = d.attrs();
  c.base = d.base();
  c.limit = d.limit();
  return c;
}

// A null selector loaded into DS/ES/FS/GS (or SS on return to CPL 3 nulling): unusable.
inline SegmentCache null_segment_cache(uint16_t selector) {
  SegmentCache c;
  c.selector = selector;
  c.attrs = 0x10000;
  return c;
}

// Cached-attribute helpers shared by the access checks.
inline bool cache_is_code(const SegmentCache& c) { return c.s() && (c.type() & 8); }
inline bool cache_conforming(const SegmentCache& c) { return cache_is_code(c) && (c.type() & 4); }

}  // namespace btvmm::runtime
