// The virtio 1.0 PCI transport (virtio 1.0, 4.1), modern interface only: common configuration,
// notifications, ISR status and device configuration in memory BAR 0, found through vendor
// capabilities; interrupts on legacy INTx (no MSI-X). It never touches guest memory except
// through the virtqueues and DmaMemory, and only after the driver set DRIVER_OK and bus mastering.
#pragma once

#include <array>
#include <cstdint>

#include "devices/dma_memory.h"
#include "devices/pci_bus.h"
#include "devices/virtio_queue.h"

namespace btvmm::devices {

// What a virtio device type (block, ...) supplies to the transport.
class VirtioBackend {
 public:
  virtual ~VirtioBackend() = default;
  virtual uint16_t device_type() const = 0;  // virtio 1.0, 5: 2 = block device
  virtual uint32_t pci_class() const = 0;
  // Feature bits the device offers; the transport adds VIRTIO_F_VERSION_1.
  virtual uint64_t features() const = 0;
  virtual unsigned queue_count() const = 0;
  virtual uint32_t config_size() const = 0;
  virtual uint8_t config_byte(uint32_t offset) const = 0;
  // Serves one chain from `queue`; returns the number of bytes written into device-writable
  // buffers (the used-ring length).
  virtual uint32_t handle(unsigned queue, const VirtqChain& chain, DmaMemory& mem) = 0;
  // The driver accepted these features (FEATURES_OK) or reset the device (0).
  virtual void set_driver_features(uint64_t) {}
};

class VirtioPci : public PciDevice {
 public:
  static constexpr uint16_t kVendor = 0x1af4;  // virtio 1.0 4.1.2
  static constexpr uint64_t kFeatureIndirectDesc = 1ull << 28;
  static constexpr uint64_t kFeatureVersion1 = 1ull << 32;
  static constexpr uint8_t kStatusAcknowledge = 1;
  static constexpr uint8_t kStatusDriver = 2;
  static constexpr uint8_t kStatusDriverOk = 4;
  static constexpr uint8_t kStatusFeaturesOk = 8;
  static constexpr uint8_t kStatusNeedsReset = 0x40;
  static constexpr uint8_t kStatusFailed = 0x80;
  // Layout of BAR 0.
  static constexpr uint32_t kBarSize = 0x4000;
  static constexpr uint32_t kCommonOffset = 0x0000;
  static constexpr uint32_t kCommonLength = 0x38;
  static constexpr uint32_t kIsrOffset = 0x1000;
  static constexpr uint32_t kDeviceOffset = 0x2000;
  static constexpr uint32_t kNotifyOffset = 0x3000;
  static constexpr uint32_t kNotifyMultiplier = 4;
  static constexpr unsigned kMaxQueues = 8;

  // Both references must outlive the device.
  VirtioPci(VirtioBackend& backend, DmaMemory& mem);

  uint64_t bar_read(unsigned bar, uint64_t offset, unsigned size) override;
  void bar_write(unsigned bar, uint64_t offset, unsigned size, uint64_t value) override;

  uint8_t status() const { return status_; }
  uint8_t isr() const { return isr_; }

 private:
  uint64_t common_read(uint32_t offset, unsigned size) const;
  void common_write(uint32_t offset, unsigned size, uint32_t value);
  void write_status(uint8_t value);
  void reset();
  void notify(unsigned queue);
  void needs_reset();
  void raise(uint8_t isr_bits);

  VirtioBackend& backend_;
  DmaMemory& mem_;
  uint64_t device_features_;
  uint64_t driver_features_ = 0;
  uint32_t device_feature_select_ = 0;
  uint32_t driver_feature_select_ = 0;
  uint16_t queue_select_ = 0;
  uint8_t status_ = 0;
  uint8_t isr_ = 0;
  uint32_t staged_common_ = 0;  // a common-configuration field being written in pieces
  std::array<VirtQueue, kMaxQueues> queues_{};
  VirtqChain chain_;
};

}  // namespace btvmm::devices
