// `btvmm run`: loads the boot set, builds the machine, runs it on the chosen backend, reboots
// on guest reset unless -no-reboot, and turns the way the guest stopped into the exit status.
#pragma once

#include "host/options.h"
#include "mmu/window.h"

namespace btvmm::host {

// `window` holds the guest windows reserved first thing in main (needed by --accel bt).
int run_command(const RunOptions& options, mmu::GuestWindows* window);

}  // namespace btvmm::host
