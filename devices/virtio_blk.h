// virtio-blk (virtio 1.0, 5.2) over any virtio transport: one request queue, VIRTIO_BLK_T_IN,
// OUT, FLUSH and GET_ID, backed by a file descriptor of the disk image (pread/pwrite/fdatasync).
// Never reads or writes the image outside [0, capacity) nor guest memory outside RAM.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "devices/virtio_pci.h"

namespace btvmm::devices {

class VirtioBlk : public VirtioBackend {
 public:
  static constexpr uint32_t kSectorSize = 512;  // 5.2.6: sector numbers are in 512-byte units
  static constexpr uint32_t kType_In = 0;
  static constexpr uint32_t kType_Out = 1;
  static constexpr uint32_t kType_Flush = 4;
  static constexpr uint32_t kType_GetId = 8;
  static constexpr uint8_t kStatusOk = 0;
  static constexpr uint8_t kStatusIoErr = 1;
  static constexpr uint8_t kStatusUnsupported = 2;
  static constexpr uint64_t kFeatureSizeMax = 1ull << 1;
  static constexpr uint64_t kFeatureSegMax = 1ull << 2;
  static constexpr uint64_t kFeatureReadOnly = 1ull << 5;
  static constexpr uint64_t kFeatureFlush = 1ull << 9;
  static constexpr uint32_t kSizeMax = 1u << 20;
  static constexpr unsigned kIdBytes = 20;  // VIRTIO_BLK_ID_BYTES

  struct Options {
    bool read_only = false;
    std::string serial = "btvmm-disk";  // answered to GET_ID, at most 20 bytes used
    // `-snapshot`: guest writes land in an in-memory copy-on-write overlay (one entry per written
    // sector, so it grows up to the image size) and the image file is never written.
    bool snapshot = false;
    // Writes that start below this byte offset fail with VIRTIO_BLK_S_IOERR: disk.img keeps its
    // MBR, boot configuration, kernel, initrd and command line there (README "disk.img format"),
    // and the guest must never be able to change what the next boot loads and checksums.
    uint64_t protected_bytes = 0;
  };

  // fd stays owned by the caller and must stay open; its size (fstat) rounded down to whole
  // sectors is the capacity. Throws btvmm::Error when fstat fails.
  VirtioBlk(int fd, Options options);

  uint16_t device_type() const override { return 2; }
  uint32_t pci_class() const override { return 0x010000; }  // mass storage, SCSI (as QEMU's)
  uint64_t features() const override;
  unsigned queue_count() const override { return 1; }
  uint32_t config_size() const override { return 24; }
  uint8_t config_byte(uint32_t offset) const override;
  uint32_t handle(unsigned queue, const VirtqChain& chain, DmaMemory& mem) override;

  uint64_t capacity_sectors() const { return capacity_; }
  uint64_t overlay_sectors() const { return overlay_.size(); }

 private:
  uint8_t serve(uint32_t type, uint64_t sector, const VirtqChain& chain, uint64_t readable, uint64_t writable,
                DmaMemory& mem, uint32_t& written);
  bool read_image(uint8_t* buf, uint64_t len, uint64_t offset);
  bool write_image(const uint8_t* buf, uint64_t len, uint64_t offset);
  int fd_;
  Options options_;
  uint64_t capacity_;
  std::vector<uint8_t> bounce_;
  std::unordered_map<uint64_t, std::vector<uint8_t>> overlay_;  // sector -> its 512 bytes
};

}  // namespace btvmm::devices
