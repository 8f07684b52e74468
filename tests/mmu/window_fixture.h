// Test helper for tests that use the real guest window (never built with ASan, DESIGN.md 7): one
// window per test process, and guest accesses made through host pointers into it, with a SIGSEGV
// handler standing in for the runtime's fault path (fill, then retry).
// Touches host memory only inside the window.
#pragma once

#include <csetjmp>
#include <csignal>
#include <cstdint>
#include <memory>

#include "mmu/machine_memory.h"
#include "mmu/shadow_mmu.h"
#include "mmu/window.h"

namespace btvmm::mmu::testing {

// The process's window, created on first use; a test may reset it (to test reservation itself).
inline std::unique_ptr<Window>& window_holder() {
  static std::unique_ptr<Window> w;
  return w;
}

inline Window& test_window() {
  auto& w = window_holder();
  if (!w) w = std::make_unique<Window>();
  return *w;
}

// The process's user window (translated CPL 3 code), created on first use.
inline Window& test_user_window() {
  static std::unique_ptr<Window> w;
  if (!w) w = std::make_unique<Window>(WindowKind::kUser);
  return *w;
}

namespace detail {
inline sigjmp_buf* g_jump = nullptr;
inline uintptr_t g_fault_addr = 0;
inline void on_segv(int, siginfo_t* si, void*) {
  g_fault_addr = reinterpret_cast<uintptr_t>(si->si_addr);
  siglongjmp(*g_jump, 1);
}
}  // namespace detail

// Reads or writes 4 bytes at p; returns false (and the faulting address) if the host faulted.
inline bool host_access(volatile uint8_t* p, bool write, uint32_t& value, uintptr_t* fault_addr = nullptr) {
  struct sigaction sa {}, old {};
  sa.sa_sigaction = detail::on_segv;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, &old);
  sigaction(SIGBUS, &sa, nullptr);
  sigjmp_buf jb;
  detail::g_jump = &jb;
  volatile bool ok = true;
  if (sigsetjmp(jb, 1) == 0) {
    if (write)
      *reinterpret_cast<volatile uint32_t*>(p) = value;
    else
      value = *reinterpret_cast<volatile uint32_t*>(p);
  } else {
    ok = false;
    if (fault_addr) *fault_addr = detail::g_fault_addr;
  }
  sigaction(SIGSEGV, &old, nullptr);
  signal(SIGBUS, SIG_DFL);
  return ok;
}

struct GuestAccess {
  FillStatus status = FillStatus::kMapped;
  std::optional<PageFault> fault;
  int host_faults = 0;
};

// A guest access at linear la as the runtime will perform it: through the window, filling the
// shadow on each host fault; a traced write is emulated through GuestMemory.
inline GuestAccess guest_access(ShadowMmu& shadow, const Window& w, GuestMemory& mem, uint32_t la, bool write,
                                uint32_t& value) {
  GuestAccess r;
  for (int attempt = 0; attempt < 4; ++attempt) {
    uintptr_t addr = 0;
    if (host_access(w.host(LinearAddr(la)), write, value, &addr)) {
      r.status = FillStatus::kMapped;
      return r;
    }
    ++r.host_faults;
    FillResult f = shadow.fill(LinearAddr(static_cast<uint32_t>(addr)), write ? AccessKind::kWrite : AccessKind::kRead);
    r.status = f.status;
    r.fault = f.fault;
    if (f.status == FillStatus::kTracedWrite) {
      mem.write_obj(f.translation.phys, value);
      return r;
    }
    if (f.status != FillStatus::kMapped) return r;
  }
  r.status = FillStatus::kGuestFault;  // mapped and still faulting: a shadow bug, with no #PF
  return r;
}

}  // namespace btvmm::mmu::testing
