// Guest physical memory: one memfd of machine pages ("machine memory") and a pmap from guest
// physical page numbers to machine page numbers (DESIGN.md 2). The pmap is the seam where page
// sharing, ballooning and snapshots will remap pages without the translator knowing.
//
// Never hands out a pointer outside the memfd mapping: every accessor checks its range.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/types.h"

namespace btvmm::mmu {

// The memfd and one shared mapping of all of it in the monitor (for loaders, devices' DMA and
// page-table walks). Shadow mappings in the guest window map the same fd at other addresses.
class MachineMemory {
 public:
  explicit MachineMemory(uint64_t bytes);
  ~MachineMemory();
  MachineMemory(const MachineMemory&) = delete;
  MachineMemory& operator=(const MachineMemory&) = delete;

  int fd() const { return fd_; }
  uint64_t size() const { return size_; }
  uint32_t pages() const { return static_cast<uint32_t>(size_ >> kPageShift); }
  // Monitor's view of machine page mpn (kPageSize bytes).
  uint8_t* page(Mpn mpn) const;
  uint8_t* base() const { return base_; }

 private:
  int fd_ = -1;
  uint64_t size_ = 0;
  uint8_t* base_ = nullptr;
};

// Guest PPN -> MPN. Starts as the identity; every guest page is backed.
class Pmap {
 public:
  explicit Pmap(uint32_t guest_pages);
  uint32_t guest_pages() const { return static_cast<uint32_t>(map_.size()); }
  bool valid(Ppn p) const { return p.value < map_.size(); }
  Mpn lookup(Ppn p) const { return map_.at(p.value); }
  void set(Ppn p, Mpn m) { map_.at(p.value) = m; }

 private:
  std::vector<Mpn> map_;
};

// The guest-physical view that loaders, devices (DMA) and page walks use.
class GuestMemory {
 public:
  explicit GuestMemory(uint64_t bytes);

  uint64_t size() const { return uint64_t(pmap_.guest_pages()) << kPageShift; }
  bool contains(GuestPhysAddr a, uint64_t len) const { return a.value <= size() && len <= size() - a.value; }
  // Copy in/out; false (nothing copied) when any byte lies outside guest RAM.
  bool read(GuestPhysAddr a, void* dst, uint64_t len) const;
  bool write(GuestPhysAddr a, const void* src, uint64_t len);
  bool fill(GuestPhysAddr a, uint8_t byte, uint64_t len);
  // Host pointer to the byte at a, valid up to the end of its page; nullptr outside RAM.
  uint8_t* host_ptr(GuestPhysAddr a) const;
  template <typename T>
  bool read_obj(GuestPhysAddr a, T& out) const { return read(a, &out, sizeof(T)); }
  template <typename T>
  bool write_obj(GuestPhysAddr a, const T& v) { return write(a, &v, sizeof(T)); }

  MachineMemory& machine() { return machine_; }
  const MachineMemory& machine() const { return machine_; }
  Pmap& pmap() { return pmap_; }
  const Pmap& pmap() const { return pmap_; }

 private:
  template <typename Fn>
  bool for_each_chunk(GuestPhysAddr a, uint64_t len, Fn fn) const;
  MachineMemory machine_;
  Pmap pmap_;
};

}  // namespace btvmm::mmu
