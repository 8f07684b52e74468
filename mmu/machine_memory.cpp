#include "mmu/machine_memory.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "core/error.h"

namespace btvmm::mmu {

MachineMemory::MachineMemory(uint64_t bytes) {
  if (bytes == 0 || bytes % kPageSize) fail(ExitCode::kUsage, "machine memory size {} is not a positive multiple of 4 KiB", bytes);
  fd_ = memfd_create("btvmm-machine-memory", MFD_CLOEXEC);
  if (fd_ < 0) throw_errno("memfd_create(machine memory)");
  if (ftruncate(fd_, static_cast<off_t>(bytes)) != 0) {
    close(fd_);
    throw_errno(fmt::format("ftruncate(machine memory, {})", bytes));
  }
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd_, 0);
  if (p == MAP_FAILED) {
    close(fd_);
    throw_errno("mmap(machine memory)");
  }
  base_ = static_cast<uint8_t*>(p);
  size_ = bytes;
}

MachineMemory::~MachineMemory() {
  if (base_) munmap(base_, size_);
  if (fd_ >= 0) close(fd_);
}

uint8_t* MachineMemory::page(Mpn mpn) const {
  if (uint64_t(mpn.value) >= pages()) fail(ExitCode::kInternal, "machine page {:#x} out of range ({} pages)", mpn.value, pages());
  return base_ + (uint64_t(mpn.value) << kPageShift);
}

Pmap::Pmap(uint32_t guest_pages) : map_(guest_pages) {
  for (uint32_t i = 0; i < guest_pages; ++i) map_[i] = Mpn(i);
}

GuestMemory::GuestMemory(uint64_t bytes) : machine_(bytes), pmap_(machine_.pages()) {}

template <typename Fn>
bool GuestMemory::for_each_chunk(GuestPhysAddr a, uint64_t len, Fn fn) const {
  if (!contains(a, len)) return false;
  uint64_t done = 0;
  while (done < len) {
    uint64_t addr = a.value + done;
    uint64_t off = addr & (kPageSize - 1);
    uint64_t n = std::min<uint64_t>(kPageSize - off, len - done);
    uint8_t* host = machine_.page(pmap_.lookup(ppn_of(GuestPhysAddr(addr)))) + off;
    fn(host, done, n);
    done += n;
  }
  return true;
}

bool GuestMemory::read(GuestPhysAddr a, void* dst, uint64_t len) const {
  auto* out = static_cast<uint8_t*>(dst);
  return for_each_chunk(a, len, [&](uint8_t* host, uint64_t done, uint64_t n) { std::memcpy(out + done, host, n); });
}

bool GuestMemory::write(GuestPhysAddr a, const void* src, uint64_t len) {
  auto* in = static_cast<const uint8_t*>(src);
  return for_each_chunk(a, len, [&](uint8_t* host, uint64_t done, uint64_t n) { std::memcpy(host, in + done, n); });
}

bool GuestMemory::fill(GuestPhysAddr a, uint8_t byte, uint64_t len) {
  return for_each_chunk(a, len, [&](uint8_t* host, uint64_t, uint64_t n) { std::memset(host, byte, n); });
}

uint8_t* GuestMemory::host_ptr(GuestPhysAddr a) const {
  if (!contains(a, 1)) return nullptr;
  return machine_.page(pmap_.lookup(ppn_of(a))) + (a.value & (kPageSize - 1));
}

}  // namespace btvmm::mmu
