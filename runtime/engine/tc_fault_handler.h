// Host faults in translated code (DESIGN.md 3 "precise exceptions", 7 "Stacks"): SIGSEGV, SIGBUS,
// SIGFPE, SIGILL and SIGTRAP on a sigaltstack, turned into a hidden shadow fill, a traced write let
// through for one single-stepped instruction, or a guest exception at the exact guest EIP with the
// exact guest registers. A signal whose RIP is outside the TC is not ours: it goes to the handler
// installed before (if any), else the default action kills the process.
#pragma once

namespace btvmm::runtime::engine {

class Engine;

// Installs the handlers (once per process) and a sigaltstack for the calling thread.
void install_tc_fault_handler(Engine* engine);
void uninstall_tc_fault_handler(Engine* engine);
// The engine whose TC the vCPU thread is about to run.
void set_active_engine(Engine* engine);

}  // namespace btvmm::runtime::engine
