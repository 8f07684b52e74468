// Shadow mapping requests for a stub, queued in order (a later request on the same pages must
// win, so the queue is never reordered). Counts every request as direct.map_requests.
#include "runtime/direct/stub_mapper.h"

#include "core/error.h"
#include "core/stats.h"
#include "mmu/window.h"

namespace btvmm::direct {
namespace {
stats::Counter c_map_requests{"direct.map_requests", "map/protect/unmap requests queued for the direct-execution stub"};
}

StubMapper::StubMapper(StubProcess& stub)
    : stub_(stub), first_(LinearAddr(static_cast<uint32_t>(mmu::read_mmap_min_addr()))) {}

void StubMapper::check_range(const char* what, LinearAddr first, uint32_t pages) const {
  const uint64_t lo = first.value, hi = lo + uint64_t(pages) * kPageSize;
  if (pages == 0 || lo % kPageSize || lo < first_.value || hi > mmu::kWindowSize)
    fail(ExitCode::kInternal, "stub shadow {}: [{:#x}, {:#x}) is not a page range of the guest space", what, lo, hi);
}

void StubMapper::map(LinearAddr first, uint32_t pages, Mpn mpn, mmu::Prot prot) {
  check_range("map", first, pages);
  btvmm_stub_request r{};
  r.op = BTVMM_OP_MAP;
  r.first = first.value;
  r.pages = pages;
  r.offset = uint64_t(mpn.value) << kPageShift;
  r.writable = prot == mmu::Prot::kReadWrite;
  stub_.enqueue(r);
  c_map_requests.inc();
}

void StubMapper::protect(LinearAddr first, uint32_t pages, mmu::Prot prot) {
  check_range("protect", first, pages);
  btvmm_stub_request r{};
  r.op = BTVMM_OP_PROTECT;
  r.first = first.value;
  r.pages = pages;
  r.writable = prot == mmu::Prot::kReadWrite;
  stub_.enqueue(r);
  c_map_requests.inc();
}

void StubMapper::unmap(LinearAddr first, uint32_t pages) {
  check_range("unmap", first, pages);
  btvmm_stub_request r{};
  r.op = BTVMM_OP_UNMAP;
  r.first = first.value;
  r.pages = pages;
  stub_.enqueue(r);
  c_map_requests.inc();
}

void StubMapper::unmap_all() {
  // munmap of the whole guest range: the stub keeps nothing of its own below 4 GiB.
  unmap(first_, uint32_t((mmu::kWindowSize - first_.value) >> kPageShift));
}

}  // namespace btvmm::direct
