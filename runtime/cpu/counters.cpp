// Definitions of the CPU-semantics counters (see counters.h).
#include "runtime/cpu/counters.h"

namespace btvmm::runtime::counters {

stats::Counter exceptions{"cpu.exceptions", "exceptions delivered through the guest IDT"};
stats::Counter interrupts{"cpu.interrupts", "software and external interrupts delivered through the guest IDT"};
stats::Counter double_faults{"cpu.double_faults", "double faults raised (SDM vol. 3 table 6-5)"};
stats::Counter triple_faults{"cpu.triple_faults", "shutdowns: faults while delivering a double fault"};
stats::Counter iret{"cpu.iret", "iret instructions executed by the monitor"};
stats::Counter far_transfers{"cpu.far_transfers", "far jmp/call/ret executed by the monitor"};
stats::Counter task_switches{"cpu.task_switches", "hardware task switches (task gates, jmp/call to a TSS, iret with NT)"};
stats::Counter cr_writes{"cpu.cr_writes", "writes to CR0/CR2/CR3/CR4 (mov, lmsw, clts)"};
stats::Counter io_in{"cpu.io_in", "port reads (in, ins: one per element)"};
stats::Counter io_out{"cpu.io_out", "port writes (out, outs: one per element)"};
stats::Counter cpuid{"cpu.cpuid", "cpuid instructions"};
stats::Counter msr{"cpu.msr", "rdmsr/wrmsr instructions"};
stats::Counter segment_loads{"cpu.segment_loads", "segment-register loads by mov/pop/lds..lss"};
stats::Counter unimplemented{"cpu.unimplemented", "guest requests btvmm's CPU does not implement (see logs)"};

namespace {
const char* g_last = "";
}

void note_unimplemented(const char* what) {
  unimplemented.inc();
  g_last = what;
}

const char* last_unimplemented() { return g_last; }

}  // namespace btvmm::runtime::counters
