// `btvmm run`: loads the boot set, builds the machine, runs it on the chosen backend, reboots
// on guest reset unless -no-reboot, and turns the way the guest stopped into the exit status.
#pragma once

#include "host/options.h"

namespace btvmm::host {

int run_command(const RunOptions& options);

}  // namespace btvmm::host
