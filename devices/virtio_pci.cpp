// Virtio 1.0 PCI transport: capability layout (4.1.4), common configuration (4.1.4.3), notify
// (4.1.4.4), ISR status (4.1.4.5: reading clears it and deasserts INTx), device status and
// feature negotiation (2.1, 2.2, 3.1.1). Registers are read-modify-free little-endian images.
#include "devices/virtio_pci.h"

#include <cstring>
#include <stdexcept>

#include "core/stats.h"

namespace btvmm::devices {

namespace {
stats::Counter c_notifies{"virtio.notifies", "virtio queue notifications written by the driver"};
stats::Counter c_irqs{"irq.virtio_raised", "virtio interrupts raised (used buffers or configuration change)"};

constexpr uint8_t kCapVendor = 0x09;
constexpr uint8_t kCapCommon = 1;
constexpr uint8_t kCapNotify = 2;
constexpr uint8_t kCapIsr = 3;
constexpr uint8_t kCapDevice = 4;
constexpr uint16_t kNoVector = 0xffff;  // VIRTIO_MSI_NO_VECTOR: no MSI-X capability is offered
constexpr uint8_t kIsrQueue = 1;
constexpr uint8_t kIsrConfig = 2;

void put_le(uint8_t* p, unsigned size, uint64_t v) {
  for (unsigned i = 0; i < size; ++i) p[i] = uint8_t(v >> (8 * i));
}

uint64_t ones(unsigned size) { return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1; }

// Width of the common-configuration field holding byte `offset` (4.1.4.3, struct
// virtio_pci_common_cfg; the 64-bit queue addresses are written as two dwords).
unsigned common_field_width(uint32_t offset) {
  if (offset < 0x10 || offset >= 0x20) return 4;
  if (offset == 0x14 || offset == 0x15) return 1;
  return 2;
}
}  // namespace

VirtioPci::VirtioPci(VirtioBackend& backend, DmaMemory& mem)
    : PciDevice(Ids{kVendor, uint16_t(0x1040 + backend.device_type()), 1, backend.pci_class(), kVendor, 0x1100}),
      backend_(backend),
      mem_(mem),
      device_features_(backend.features() | kFeatureVersion1) {
  if (backend.queue_count() == 0 || backend.queue_count() > kMaxQueues)
    throw std::invalid_argument("VirtioPci: unsupported queue count");
  define_bar(0, false, kBarSize);
  use_intx_pin_a();
  // struct virtio_pci_cap after cap_vndr/cap_next: cap_len, cfg_type, bar, padding[3], offset, length.
  auto cap = [this](uint8_t type, uint32_t offset, uint32_t length, bool notify) {
    uint8_t body[18] = {};
    body[0] = notify ? 20 : 16;
    body[1] = type;
    body[2] = 0;
    put_le(body + 6, 4, offset);
    put_le(body + 10, 4, length);
    if (notify) put_le(body + 14, 4, kNotifyMultiplier);
    add_capability(kCapVendor, body, notify ? 18 : 14);
  };
  cap(kCapCommon, kCommonOffset, kCommonLength, false);
  cap(kCapNotify, kNotifyOffset, kNotifyMultiplier * backend.queue_count(), true);
  cap(kCapIsr, kIsrOffset, 1, false);
  cap(kCapDevice, kDeviceOffset, backend.config_size(), false);
}

uint64_t VirtioPci::bar_read(unsigned bar, uint64_t offset, unsigned size) {
  if (bar != 0 || (size != 1 && size != 2 && size != 4 && size != 8)) return ones(size);
  if (offset < kCommonLength) return offset + size <= kCommonLength ? common_read(uint32_t(offset), size) : ones(size);
  if (offset == kIsrOffset) {
    uint8_t v = isr_;
    isr_ = 0;
    set_intx(false);
    return v;
  }
  if (offset >= kDeviceOffset && offset < kNotifyOffset) {
    uint64_t v = 0;
    uint32_t base = uint32_t(offset - kDeviceOffset);
    for (unsigned i = 0; i < size; ++i)
      if (base + i < backend_.config_size()) v |= uint64_t(backend_.config_byte(base + i)) << (8 * i);
    return v;
  }
  return 0;
}

void VirtioPci::bar_write(unsigned bar, uint64_t offset, unsigned size, uint64_t value) {
  if (bar != 0) return;
  if (offset < kCommonLength) {
    if (offset + size > kCommonLength) return;
    const uint32_t off = uint32_t(offset), width = common_field_width(off), field = off & ~(width - 1);
    if (size == width && off == field) return common_write(off, size, uint32_t(value));
    // A narrower access (a bus that splits wide accesses into ascending bytes, as btvmm's monitor
    // emulation of MMIO does) is merged into an image of the field, which takes effect when its
    // last byte arrives; bytes not written keep the field's current value.
    if (off + size > field + width) return;
    if (off == field) staged_common_ = uint32_t(common_read(field, width));
    for (unsigned i = 0; i < size; ++i) {
      unsigned shift = 8 * (off - field + i);
      staged_common_ = (staged_common_ & ~(0xffu << shift)) | uint32_t((value >> (8 * i)) & 0xff) << shift;
    }
    if (off + size == field + width) common_write(field, width, staged_common_);
    return;
  }
  if (offset >= kNotifyOffset && offset < kNotifyOffset + kNotifyMultiplier * backend_.queue_count()) {
    // A notification is one write at the start of the queue's slot; the later bytes of a split
    // write would only repeat it.
    if ((offset - kNotifyOffset) % kNotifyMultiplier != 0) return;
    c_notifies.inc();
    notify(unsigned((offset - kNotifyOffset) / kNotifyMultiplier));
  }
}

uint64_t VirtioPci::common_read(uint32_t offset, unsigned size) const {
  uint8_t img[kCommonLength] = {};
  uint32_t features = device_feature_select_ < 2 ? uint32_t(device_features_ >> (32 * device_feature_select_)) : 0;
  uint32_t driver = driver_feature_select_ < 2 ? uint32_t(driver_features_ >> (32 * driver_feature_select_)) : 0;
  put_le(img + 0x00, 4, device_feature_select_);
  put_le(img + 0x04, 4, features);
  put_le(img + 0x08, 4, driver_feature_select_);
  put_le(img + 0x0c, 4, driver);
  put_le(img + 0x10, 2, kNoVector);
  put_le(img + 0x12, 2, backend_.queue_count());
  img[0x14] = status_;
  img[0x15] = 0;  // config_generation: the block configuration never changes while running
  put_le(img + 0x16, 2, queue_select_);
  if (queue_select_ < backend_.queue_count()) {
    const VirtQueue& q = queues_[queue_select_];
    put_le(img + 0x18, 2, q.size);
    put_le(img + 0x1a, 2, kNoVector);
    put_le(img + 0x1c, 2, q.enabled);
    put_le(img + 0x1e, 2, queue_select_);  // queue_notify_off: notify at offset q * multiplier
    put_le(img + 0x20, 8, q.desc);
    put_le(img + 0x28, 8, q.avail);
    put_le(img + 0x30, 8, q.used);
  }
  uint64_t v = 0;
  std::memcpy(&v, img + offset, size);
  return v;
}

void VirtioPci::common_write(uint32_t offset, unsigned size, uint32_t value) {
  VirtQueue* q = queue_select_ < backend_.queue_count() ? &queues_[queue_select_] : nullptr;
  // 4.1.3.1: the driver accesses each field with its own width; 64-bit fields as two dwords.
  auto half = [&](uint64_t& field, bool high) {
    field = high ? (field & 0xffffffffull) | uint64_t(value) << 32 : (field & ~0xffffffffull) | value;
  };
  switch (size << 8 | offset) {
    case 4 << 8 | 0x00: device_feature_select_ = value; break;
    case 4 << 8 | 0x08: driver_feature_select_ = value; break;
    case 4 << 8 | 0x0c:
      // 3.1.1: features are fixed once FEATURES_OK is set.
      if (driver_feature_select_ < 2 && !(status_ & kStatusFeaturesOk)) {
        uint64_t mask = 0xffffffffull << (32 * driver_feature_select_);
        driver_features_ = (driver_features_ & ~mask) | (uint64_t(value) << (32 * driver_feature_select_));
      }
      break;
    case 1 << 8 | 0x14: write_status(uint8_t(value)); break;
    case 2 << 8 | 0x16: queue_select_ = uint16_t(value); break;
    case 2 << 8 | 0x18:
      if (q && !q->enabled) q->size = uint16_t(value);
      break;
    case 2 << 8 | 0x1c:
      if (q && value == 1 && q->size_valid()) q->enabled = true;
      break;
    case 4 << 8 | 0x20: case 4 << 8 | 0x24:
      if (q && !q->enabled) half(q->desc, offset == 0x24);
      break;
    case 4 << 8 | 0x28: case 4 << 8 | 0x2c:
      if (q && !q->enabled) half(q->avail, offset == 0x2c);
      break;
    case 4 << 8 | 0x30: case 4 << 8 | 0x34:
      if (q && !q->enabled) half(q->used, offset == 0x34);
      break;
    default: break;  // read-only fields, MSI-X vectors (none offered), odd widths
  }
}

void VirtioPci::write_status(uint8_t value) {
  if (value == 0) return reset();
  if ((value & kStatusFeaturesOk) && !(status_ & kStatusFeaturesOk)) {
    // 2.2.2 / 6.1: accept only a subset of what was offered, and only the 1.0 interface.
    bool ok = (driver_features_ & ~device_features_) == 0 && (driver_features_ & kFeatureVersion1);
    if (ok)
      backend_.set_driver_features(driver_features_);
    else
      value &= uint8_t(~kStatusFeaturesOk);
  }
  status_ = uint8_t((value & ~kStatusNeedsReset) | (status_ & kStatusNeedsReset));
}

void VirtioPci::reset() {
  status_ = 0;
  isr_ = 0;
  driver_features_ = 0;
  device_feature_select_ = 0;
  driver_feature_select_ = 0;
  queue_select_ = 0;
  for (VirtQueue& q : queues_) q.reset();
  backend_.set_driver_features(0);
  set_intx(false);
}

void VirtioPci::notify(unsigned index) {
  constexpr uint8_t kLive = kStatusDriverOk | kStatusFeaturesOk;
  if ((status_ & kLive) != kLive || (status_ & (kStatusNeedsReset | kStatusFailed)) || !bus_master()) return;
  VirtQueue& q = queues_[index];
  if (!q.enabled) return;
  bool indirect = driver_features_ & kFeatureIndirectDesc;
  bool used = false;
  for (;;) {
    VirtQueue::Pop r = q.pop(mem_, chain_, indirect);
    if (r == VirtQueue::Pop::kEmpty) break;
    if (r == VirtQueue::Pop::kBroken) return needs_reset();
    uint32_t len = backend_.handle(index, chain_, mem_);
    if (!q.push_used(mem_, chain_.head, len)) return needs_reset();
    used = true;
  }
  if (used && !q.interrupt_suppressed(mem_)) raise(kIsrQueue);
}

void VirtioPci::needs_reset() {
  // 2.1.2: the device signals an unrecoverable error with NEEDS_RESET and a configuration
  // change notification, once the driver is live.
  if (status_ & kStatusNeedsReset) return;
  status_ |= kStatusNeedsReset;
  raise(kIsrConfig);
}

void VirtioPci::raise(uint8_t isr_bits) {
  isr_ |= isr_bits;
  c_irqs.inc();
  set_intx(true);
}

}  // namespace btvmm::devices
