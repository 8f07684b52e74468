// virtio-blk request handling (virtio 1.0, 5.2.6): a request is a 16-byte device-readable header
// (type, reserved, sector), data, and a one-byte device-writable status at the very end. Data
// moves through a bounded bounce buffer, so a huge guest length never means a huge allocation.
#include "devices/virtio_blk.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/error.h"
#include "core/stats.h"

namespace btvmm::devices {

namespace {
stats::Counter c_reads{"virtio_blk.reads", "virtio-blk read requests (VIRTIO_BLK_T_IN)"};
stats::Counter c_writes{"virtio_blk.writes", "virtio-blk write requests (VIRTIO_BLK_T_OUT)"};
stats::Counter c_bytes_read{"virtio_blk.bytes_read", "bytes read from the disk image into guest memory"};
stats::Counter c_protected{"virtio_blk.protected_write_refusals",
                           "virtio-blk writes refused because they start in the protected boot area"};
stats::Counter c_bytes_written{"virtio_blk.bytes_written", "bytes written from guest memory to the disk image"};

constexpr uint64_t kHeaderBytes = 16;
constexpr uint64_t kChunk = 64 * 1024;

// Copies `len` bytes at byte `pos` of the stream formed by the chain's readable (or writable)
// segments, in order, from guest memory into buf or back. false if the stream is too short or a
// byte lies outside guest RAM.
bool stream_copy(DmaMemory& mem, const VirtqChain& chain, bool writable, uint64_t pos, uint8_t* buf, uint64_t len,
                 bool to_guest) {
  for (const VirtqSegment& s : chain.segments) {
    if (len == 0) break;
    if (s.device_writable != writable) continue;
    if (pos >= s.len) {
      pos -= s.len;
      continue;
    }
    uint64_t n = std::min<uint64_t>(len, s.len - pos);
    uint64_t gpa = s.addr + pos;
    if (gpa < s.addr) return false;
    if (!(to_guest ? mem.write(gpa, buf, n) : mem.read(gpa, buf, n))) return false;
    buf += n;
    len -= n;
    pos = 0;
  }
  return len == 0;
}

bool pread_all(int fd, uint8_t* buf, uint64_t len, uint64_t off) {
  while (len) {
    ssize_t n = ::pread(fd, buf, len, off_t(off));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    buf += n;
    len -= uint64_t(n);
    off += uint64_t(n);
  }
  return true;
}

bool pwrite_all(int fd, const uint8_t* buf, uint64_t len, uint64_t off) {
  while (len) {
    ssize_t n = ::pwrite(fd, buf, len, off_t(off));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    buf += n;
    len -= uint64_t(n);
    off += uint64_t(n);
  }
  return true;
}
}  // namespace

VirtioBlk::VirtioBlk(int fd, Options options) : fd_(fd), options_(std::move(options)), bounce_(kChunk) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw_errno("fstat(virtio-blk disk image)");
  capacity_ = uint64_t(st.st_size) / kSectorSize;
}

uint64_t VirtioBlk::features() const {
  return kFeatureSizeMax | kFeatureSegMax | kFeatureFlush | VirtioPci::kFeatureIndirectDesc |
         (options_.read_only ? kFeatureReadOnly : 0);
}

uint8_t VirtioBlk::config_byte(uint32_t offset) const {
  // struct virtio_blk_config (5.2.4): capacity, size_max, seg_max, geometry, blk_size.
  uint8_t img[24] = {};
  uint32_t seg_max = VirtQueue::kMaxSize - 2;  // header and status take one descriptor each
  std::memcpy(img + 0, &capacity_, 8);
  std::memcpy(img + 8, &kSizeMax, 4);
  std::memcpy(img + 12, &seg_max, 4);
  std::memcpy(img + 20, &kSectorSize, 4);
  return offset < sizeof img ? img[offset] : 0;
}

// offset and len are whole sectors (checked by serve()).
bool VirtioBlk::read_image(uint8_t* buf, uint64_t len, uint64_t offset) {
  if (!pread_all(fd_, buf, len, offset)) return false;
  if (overlay_.empty()) return true;
  for (uint64_t at = 0; at < len; at += kSectorSize) {
    auto it = overlay_.find((offset + at) / kSectorSize);
    if (it != overlay_.end()) std::memcpy(buf + at, it->second.data(), kSectorSize);
  }
  return true;
}

bool VirtioBlk::write_image(const uint8_t* buf, uint64_t len, uint64_t offset) {
  if (!options_.snapshot) return pwrite_all(fd_, buf, len, offset);
  for (uint64_t at = 0; at < len; at += kSectorSize)
    overlay_[(offset + at) / kSectorSize].assign(buf + at, buf + at + kSectorSize);
  return true;
}

uint32_t VirtioBlk::handle(unsigned, const VirtqChain& chain, DmaMemory& mem) {
  uint64_t readable = 0, writable = 0;
  for (const VirtqSegment& s : chain.segments) (s.device_writable ? writable : readable) += s.len;
  // 5.2.6.1: the status byte is the last device-writable byte; without it nothing can be reported.
  if (writable == 0) return 0;
  uint32_t written = 0;
  uint8_t status = kStatusIoErr;
  struct {
    uint32_t type;
    uint32_t reserved;
    uint64_t sector;
  } header{};
  static_assert(sizeof header == kHeaderBytes);
  if (readable >= kHeaderBytes &&
      stream_copy(mem, chain, false, 0, reinterpret_cast<uint8_t*>(&header), kHeaderBytes, false))
    status = serve(header.type, header.sector, chain, readable, writable, mem, written);
  if (!stream_copy(mem, chain, true, writable - 1, &status, 1, true)) return written;
  return written + 1;
}

uint8_t VirtioBlk::serve(uint32_t type, uint64_t sector, const VirtqChain& chain, uint64_t readable,
                         uint64_t writable, DmaMemory& mem, uint32_t& written) {
  switch (type) {
    case kType_In:
    case kType_Out: {
      bool in = type == kType_In;
      uint64_t len = in ? writable - 1 : readable - kHeaderBytes;
      if (in)
        c_reads.inc();
      else
        c_writes.inc();
      if (!in && options_.read_only) return kStatusIoErr;
      // 5.2.6.2: data is a whole number of sectors and lies within the capacity.
      if (len % kSectorSize || sector > capacity_ || len / kSectorSize > capacity_ - sector) return kStatusIoErr;
      uint64_t disk = sector * kSectorSize;
      if (!in && len && disk < options_.protected_bytes) {
        c_protected.inc();
        return kStatusIoErr;
      }
      for (uint64_t done = 0; done < len;) {
        uint64_t n = std::min(kChunk, len - done);
        if (in) {
          if (!read_image(bounce_.data(), n, disk + done)) return kStatusIoErr;
          if (!stream_copy(mem, chain, true, done, bounce_.data(), n, true)) return kStatusIoErr;
          written = uint32_t(done + n);
          c_bytes_read.inc(n);
        } else {
          if (!stream_copy(mem, chain, false, kHeaderBytes + done, bounce_.data(), n, false)) return kStatusIoErr;
          if (!write_image(bounce_.data(), n, disk + done)) return kStatusIoErr;
          c_bytes_written.inc(n);
        }
        done += n;
      }
      return kStatusOk;
    }
    case kType_Flush:
      if (options_.snapshot) return kStatusOk;  // nothing of the overlay is meant to persist
      return ::fdatasync(fd_) == 0 ? kStatusOk : kStatusIoErr;
    case kType_GetId: {
      uint8_t id[kIdBytes] = {};
      std::memcpy(id, options_.serial.data(), std::min<size_t>(kIdBytes, options_.serial.size()));
      uint64_t n = std::min<uint64_t>(kIdBytes, writable - 1);
      if (!stream_copy(mem, chain, true, 0, id, n, true)) return kStatusIoErr;
      written = uint32_t(n);
      return kStatusOk;
    }
    default:
      return kStatusUnsupported;
  }
}

}  // namespace btvmm::devices
