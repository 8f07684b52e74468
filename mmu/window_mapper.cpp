// Shadow mappings in this process's window: one mmap/mprotect per call, every call checked and
// counted by kind (the host kernel's share of shadow paging is these calls and the host TLB
// flushes some of them imply). Never touches host addresses outside [first_mappable, 4 GiB).
#include "mmu/window_mapper.h"

#include <sys/mman.h>

#include "core/error.h"
#include "core/stats.h"

namespace btvmm::mmu {
namespace {

stats::Counter c_host_mmaps{"shadow.host_mmaps", "host mmap calls mapping guest memory into a window (a single-stepped traced write's two included)"};
stats::Counter c_host_unmaps{"shadow.host_unmaps", "host mmap(PROT_NONE) calls taking a range of a window back to the reservation"};
stats::Counter c_host_unmap_alls{"shadow.host_unmap_alls", "host mmap(PROT_NONE) calls over a whole window"};
stats::Counter c_host_mprotects{"shadow.host_mprotects", "host mprotect calls on window pages"};

}  // namespace

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
  c_host_mmaps.inc();
  void* got = mmap(want, len, host_prot(prot), flags, memfd_, off_t(uint64_t(mpn.value) << kPageShift));
  if (got == MAP_FAILED) throw_errno(fmt::format("mmap(shadow {:#x}+{} pages -> mpn {:#x})", first.value, pages, mpn.value));
}

void WindowMapper::protect(LinearAddr first, uint32_t pages, Prot prot) {
  check_range("protect", first, pages);
  c_host_mprotects.inc();
  if (mprotect(window_.host(first), size_t(pages) * kPageSize, host_prot(prot)) != 0)
    throw_errno(fmt::format("mprotect(shadow {:#x}+{} pages)", first.value, pages));
}

void WindowMapper::unmap(LinearAddr first, uint32_t pages) {
  check_range("unmap", first, pages);
  c_host_unmaps.inc();
  void* got = mmap(window_.host(first), size_t(pages) * kPageSize, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
  if (got == MAP_FAILED) throw_errno(fmt::format("mmap(PROT_NONE over shadow {:#x}+{} pages)", first.value, pages));
}

void WindowMapper::unmap_all() {
  const uint64_t lo = first_mappable().value;
  c_host_unmap_alls.inc();
  void* got = mmap(window_.host(first_mappable()), kWindowSize - lo, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
  if (got == MAP_FAILED) throw_errno("mmap(PROT_NONE over the whole window)");
}

}  // namespace btvmm::mmu
