// isa-debug-exit (QEMU hw/misc/debugexit.c behaviour: exit status (value << 1) | 1, so a guest
// can never report plain success 0 by accident).
#include "devices/debug_exit.h"

#include "core/stats.h"

namespace btvmm::devices {

namespace {
stats::Counter c_writes{"io.debug_exit_writes", "writes to the isa-debug-exit port"};
}  // namespace

uint32_t DebugExit::io_read(uint16_t, unsigned) { return 0; }

void DebugExit::io_write(uint16_t, unsigned size, uint32_t value) {
  c_writes.inc();
  uint32_t v = size >= 4 ? value : value & ((1u << (8 * size)) - 1);
  machine_.request_exit(int((v << 1) | 1));
}

}  // namespace btvmm::devices
