// Shadow mappings in this process's window: one mmap/mprotect per call, every call checked.
// Never touches host addresses outside [first_mappable, 4 GiB).
#include "mmu/window_mapper.h"

#include <sys/mman.h>

#include "core/error.h"

namespace btvmm::mmu {

int WindowMapper::host_prot(Prot p) const {
  int prot = PROT_READ | (p == Prot::kReadWrite ? PROT_WRITE : 0);
  return prot | (executable_ ? PROT_EXEC : 0);
}

void WindowMapper::check_range(const char* what, LinearAddr first, uint32_t pages) const {
  uint64_t lo = first.value;
  uint64_t hi = lo + uint64_t(pages) * kPageSize;
  if (pages == 0 || lo % kPageSize || lo < first_mappable().value || hi > kWindowSize)
    fail(ExitCode::kInternal, "shadow {}: [{:#x}, {:#x}) is not a page range inside the window", what, lo, hi);
}

void WindowMapper::map(LinearAddr first, uint32_t pages, Mpn mpn, Prot prot) {
  check_range("map", first, pages);
  const size_t len = size_t(pages) * kPageSize;
  void* want = window_.host(first);
  const int flags = MAP_SHARED | MAP_FIXED | (populate_ ? MAP_POPULATE : 0);
  void* got = mmap(want, len, host_prot(prot), flags, memfd_, off_t(uint64_t(mpn.value) << kPageShift));
  if (got == MAP_FAILED) throw_errno(fmt::format("mmap(shadow {:#x}+{} pages -> mpn {:#x})", first.value, pages, mpn.value));
}

void WindowMapper::protect(LinearAddr first, uint32_t pages, Prot prot) {
  check_range("protect", first, pages);
  if (mprotect(window_.host(first), size_t(pages) * kPageSize, host_prot(prot)) != 0)
    throw_errno(fmt::format("mprotect(shadow {:#x}+{} pages)", first.value, pages));
}

void WindowMapper::unmap(LinearAddr first, uint32_t pages) {
  check_range("unmap", first, pages);
  void* got = mmap(window_.host(first), size_t(pages) * kPageSize, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
  if (got == MAP_FAILED) throw_errno(fmt::format("mmap(PROT_NONE over shadow {:#x}+{} pages)", first.value, pages));
}

void WindowMapper::unmap_all() {
  const uint64_t lo = first_mappable().value;
  void* got = mmap(window_.host(first_mappable()), kWindowSize - lo, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
  if (got == MAP_FAILED) throw_errno("mmap(PROT_NONE over the whole window)");
}

}  // namespace btvmm::mmu
