// Split virtqueues (virtio 1.0, 2.4): the descriptor table, available and used rings in guest
// memory, read and written only through DmaMemory. Every index, length and chain is checked: a
// hostile driver gets a "broken" queue (the device then NEEDS_RESET), never an access outside RAM.
#pragma once

#include <cstdint>
#include <vector>

#include "devices/dma_memory.h"

namespace btvmm::devices {

struct VirtqSegment {
  uint64_t addr;
  uint32_t len;
  bool device_writable;
};

// One request: its head descriptor index (what goes back in the used ring) and its buffers,
// device-readable ones first (2.4.4.2: the driver places writable ones after readable ones).
struct VirtqChain {
  uint16_t head = 0;
  std::vector<VirtqSegment> segments;
};

class VirtQueue {
 public:
  // Largest queue the device offers (queue_size read before the driver writes it).
  static constexpr uint16_t kMaxSize = 128;
  static constexpr uint16_t kDescNext = 1;
  static constexpr uint16_t kDescWrite = 2;
  static constexpr uint16_t kDescIndirect = 4;
  static constexpr uint16_t kAvailNoInterrupt = 1;

  enum class Pop { kEmpty, kChain, kBroken };

  void reset() { *this = VirtQueue{}; }
  // 2.4: the queue size of a split virtqueue is a power of two, here at most kMaxSize.
  bool size_valid() const { return size != 0 && size <= kMaxSize && (size & (size - 1)) == 0; }

  // Takes the next available chain. kBroken: the rings or chain break the rules (index past the
  // ring, loop, chain longer than the queue, bad indirect table, readable after writable, ring
  // outside RAM); the queue must not be used again until reset.
  Pop pop(DmaMemory& mem, VirtqChain& out, bool indirect_allowed);
  // Returns the chain `head` to the driver with `len` bytes written. false: used ring outside RAM.
  bool push_used(DmaMemory& mem, uint16_t head, uint32_t len);
  // The driver asked not to be interrupted (VRING_AVAIL_F_NO_INTERRUPT, 2.4.7).
  bool interrupt_suppressed(DmaMemory& mem) const;

  uint16_t size = kMaxSize;
  bool enabled = false;
  uint64_t desc = 0;
  uint64_t avail = 0;
  uint64_t used = 0;

 private:
  uint16_t last_avail_ = 0;
  uint16_t used_idx_ = 0;
};

}  // namespace btvmm::devices
