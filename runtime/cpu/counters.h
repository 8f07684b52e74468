// Event counters of the CPU-semantics code (core/stats.h), shared by its files so each event is
// counted under one name in --stats and JSON. Counting only: never changes guest state.
#pragma once

#include "core/stats.h"

namespace btvmm::runtime::counters {

extern stats::Counter exceptions;
extern stats::Counter interrupts;
extern stats::Counter double_faults;
extern stats::Counter triple_faults;
extern stats::Counter iret;
extern stats::Counter far_transfers;
extern stats::Counter task_switches;
extern stats::Counter cr_writes;
extern stats::Counter io_in;
extern stats::Counter io_out;
extern stats::Counter cpuid;
extern stats::Counter msr;
extern stats::Counter segment_loads;
// Architecturally valid guest requests btvmm does not implement (task switches, v8086 mode,
// call-gate stack switches with parameters...): each also names itself through note_unimplemented().
extern stats::Counter unimplemented;

// Records an unimplemented path: counts it and remembers the last one for tests and logs.
void note_unimplemented(const char* what);
const char* last_unimplemented();

}  // namespace btvmm::runtime::counters
