// Host GS base for translated CPL 3 code (see host_gs.h).
#include "runtime/engine/host_gs.h"

#include <asm/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/error.h"

namespace btvmm::runtime::engine {

void set_user_window_base(uint64_t base) {
  thread_local uint64_t current = 0;
  thread_local bool set = false;
  if (set && current == base) return;
  if (syscall(SYS_arch_prctl, ARCH_SET_GS, base) != 0) throw_errno("arch_prctl(ARCH_SET_GS, user window)");
  current = base;
  set = true;
}

}  // namespace btvmm::runtime::engine
