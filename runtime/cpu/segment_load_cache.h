// The monitor's side of in-TC segment loads (vcpu_state.h SegmentLoadCache): remembers a DS/ES/FS/GS
// load it completed at CPL 0, and empties the cache when the descriptor tables or CR0.PE change.
// Never remembers a load whose result depends on anything but the selector, the descriptor's 8 bytes
// (which translated code compares with guest memory on every use) and the tables it was read through.
#pragma once

#include <cstdint>

#include "runtime/cpu/descriptor.h"
#include "runtime/vcpu_state.h"

namespace btvmm::runtime {

// Empties the cache if GDTR, LDTR or CR0.PE differ from what its entries were read through. The
// dispatcher calls it before entering translated code: every instruction that changes them (lgdt,
// lldt, a task switch, mov cr0) runs in the monitor, so no entry outlives its tables in the TC.
void sync_segment_load_cache(VcpuState& vcpu);

// A load of `selector` into `reg` just installed vcpu.seg[reg] from the descriptor `d` at linear
// address `la`, whose accessed bit is set in guest memory. Remembered only at CPL 0, for DS/ES/FS/GS,
// where translated code can read the descriptor back (DS and ES only when flat: the TC adds no base
// for them, DESIGN.md 3).
void remember_segment_load(VcpuState& vcpu, SegReg reg, uint16_t selector, const Descriptor& d, uint32_t la);

}  // namespace btvmm::runtime
