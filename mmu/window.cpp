// Reservation of the guest window and its guard (DESIGN.md 2). Refuses to replace any existing
// mapping: a silent MAP_FIXED over btvmm's own memory would be a disaster found much later.
#include "mmu/window.h"

#include <sys/mman.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <string>

#include "core/error.h"

namespace btvmm::mmu {
namespace {

bool g_reserved[2] = {false, false};  // per WindowKind

// The first line of /proc/self/maps overlapping [lo, hi), to say what is in the way.
std::string occupant(uint64_t lo, uint64_t hi) {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    uint64_t start = 0, end = 0;
    if (std::sscanf(line.c_str(), "%" SCNx64 "-%" SCNx64, &start, &end) != 2) continue;
    if (start < hi && end > lo) return line;
  }
  return "(nothing visible in /proc/self/maps)";
}

void reserve(uint64_t lo, uint64_t hi, const char* what) {
  void* want = reinterpret_cast<void*>(lo);
  void* got = mmap(want, hi - lo, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
  if (got == MAP_FAILED) {
    if (errno == EEXIST)
      fail(ExitCode::kInternal, "mmap({} [{:#x}, {:#x})): already occupied by: {}; the window must be reserved "
           "before anything else maps memory", what, lo, hi, occupant(lo, hi));
    throw_errno(fmt::format("mmap({} [{:#x}, {:#x}))", what, lo, hi));
  }
  // Kernels before 4.17 treat MAP_FIXED_NOREPLACE as a hint and may place the mapping elsewhere.
  if (got != want) {
    munmap(got, hi - lo);
    fail(ExitCode::kInternal, "mmap({} [{:#x}, {:#x})): kernel placed it at {}; MAP_FIXED_NOREPLACE needs Linux >= 4.17",
         what, lo, hi, got);
  }
}

}  // namespace

uint64_t read_mmap_min_addr() {
  std::ifstream f("/proc/sys/vm/mmap_min_addr");
  uint64_t v = 0;
  if (!(f >> v)) fail(ExitCode::kInternal, "/proc/sys/vm/mmap_min_addr: cannot read it");
  // Page 0 is never mappable for the window even when the sysctl says 0: a NULL host pointer must
  // keep faulting in btvmm's own code.
  if (v < kPageSize) v = kPageSize;
  return (v + kPageSize - 1) & ~(kPageSize - 1);
}

Window::Window(WindowKind kind) : kind_(kind) {
  const auto k = static_cast<size_t>(kind);
  if (g_reserved[k]) fail(ExitCode::kInternal, "guest window: this process already holds one of this kind");
  first_ = read_mmap_min_addr();
  if (first_ >= kWindowSize) fail(ExitCode::kInternal, "vm.mmap_min_addr {:#x} leaves no room for the guest window", first_);
  if (kind == WindowKind::kSupervisor) {
    base_ = 0;
    lo_ = first_;
    hi_ = kWindowSize + kGuardSize;
  } else {
    base_ = kUserWindowBase;
    lo_ = base_ - kUserGuardSize;
    hi_ = base_ + kWindowSize + kUserGuardSize;
  }
  // One PROT_NONE reservation covers window and guards; the shadow maps over parts of it.
  reserve(lo_, hi_, kind == WindowKind::kSupervisor ? "guest window and guard" : "user window and guards");
  g_reserved[k] = true;
}

Window::~Window() {
  munmap(reinterpret_cast<void*>(lo_), hi_ - lo_);
  g_reserved[static_cast<size_t>(kind_)] = false;
}

}  // namespace btvmm::mmu
