// Split virtqueue walking per virtio 1.0 2.4.5 (descriptor table), 2.4.5.3 (indirect
// descriptors), 2.4.6 (available ring) and 2.4.8 (used ring). Guest memory is little-endian like
// the host. Never trusts an index, a length or a next pointer read from guest memory.
#include "devices/virtio_queue.h"


namespace btvmm::devices {

namespace {
struct Desc {
  uint64_t addr;
  uint32_t len;
  uint16_t flags;
  uint16_t next;
};
static_assert(sizeof(Desc) == 16);

bool read16(DmaMemory& mem, uint64_t gpa, uint16_t& v) { return mem.read(gpa, &v, 2); }
}  // namespace

VirtQueue::Pop VirtQueue::pop(DmaMemory& mem, VirtqChain& out, bool indirect_allowed) {
  if (!size_valid()) return Pop::kBroken;
  uint16_t avail_idx = 0;
  if (!read16(mem, avail + 2, avail_idx)) return Pop::kBroken;
  uint16_t pending = uint16_t(avail_idx - last_avail_);
  if (pending == 0) return Pop::kEmpty;
  // 2.4.6: the driver can never have more than Queue Size buffers outstanding.
  if (pending > size) return Pop::kBroken;
  uint16_t head = 0;
  if (!read16(mem, avail + 4 + 2ull * (last_avail_ % size), head)) return Pop::kBroken;
  ++last_avail_;
  if (head >= size) return Pop::kBroken;

  out.head = head;
  out.segments.clear();
  uint64_t table = desc;
  uint32_t table_len = size;
  uint32_t idx = head;
  uint32_t walked = 0;
  bool indirect = false;
  bool seen_writable = false;
  for (;;) {
    // 2.4.5.3.1: no chain is longer than the queue (or than its indirect table): this bound is
    // also what stops a loop of next pointers.
    if (idx >= table_len || ++walked > table_len) return Pop::kBroken;
    Desc d;
    if (!mem.read(table + 16ull * idx, &d, sizeof d)) return Pop::kBroken;
    if (d.flags & kDescIndirect) {
      // 2.4.5.3.1: only from the main table, without NEXT, a whole number of descriptors.
      if (!indirect_allowed || indirect || (d.flags & kDescNext) || d.len == 0 || d.len % 16 != 0 ||
          d.len / 16 > size)
        return Pop::kBroken;
      indirect = true;
      table = d.addr;
      table_len = d.len / 16;
      idx = 0;
      walked = 0;
      continue;
    }
    bool writable = d.flags & kDescWrite;
    if (!writable && seen_writable) return Pop::kBroken;
    seen_writable |= writable;
    if (out.segments.size() >= size) return Pop::kBroken;
    out.segments.push_back(VirtqSegment{d.addr, d.len, writable});
    if (!(d.flags & kDescNext)) break;
    idx = d.next;
  }
  return Pop::kChain;
}

bool VirtQueue::push_used(DmaMemory& mem, uint16_t head, uint32_t len) {
  if (!size_valid()) return false;
  uint32_t elem[2] = {head, len};
  if (!mem.write(used + 4 + 8ull * (used_idx_ % size), elem, sizeof elem)) return false;
  uint16_t next = uint16_t(used_idx_ + 1);
  if (!mem.write(used + 2, &next, 2)) return false;
  used_idx_ = next;
  return true;
}

bool VirtQueue::interrupt_suppressed(DmaMemory& mem) const {
  uint16_t flags = 0;
  return read16(mem, avail, flags) && (flags & kAvailNoInterrupt);
}

}  // namespace btvmm::devices
