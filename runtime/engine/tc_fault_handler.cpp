// Host fault handling for translated code (see tc_fault_handler.h). Every guest exception leaves
// through the common exit path with the ucontext's registers, which are the guest's at the faulting
// instruction, because every emitted sequence performs its faulting access before changing guest
// state (emit_reencode.cpp, emit_branch.cpp).
#include "runtime/engine/tc_fault_handler.h"

#include <signal.h>
#include <ucontext.h>

#include <cstdint>
#include <memory>
#include <vector>

#include <fmt/format.h>

#include "core/error.h"
#include "core/stats.h"
#include "runtime/engine/dispatcher.h"

namespace btvmm::runtime::engine {

namespace {

stats::Counter c_hidden{"traps.hidden_fault", "TC faults on guest pages not yet shadowed (filled, then retried)"};
stats::Counter c_guest_pf{"traps.guest_pf", "TC faults the guest's page tables explain (reflected as #PF)"};
stats::Counter c_traced{"traps.traced_write", "TC writes to traced pages (page tables, code), single-stepped"};
stats::Counter c_emulate{"traps.emulate", "TC faults on accesses the shadow cannot map (page 0, non-RAM, MMIO), emulated"};
stats::Counter c_de{"traps.de", "#DE raised by translated code"};
stats::Counter c_mf{"traps.mf", "x87/SSE exceptions raised by translated code"};
stats::Counter c_ud{"traps.ud", "#UD raised by translated code"};
stats::Counter c_gp{"traps.gp", "TC accesses past 4 GiB (reflected as #GP(0))"};

constexpr uint64_t kTf = 1u << 8;
constexpr int kSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP};
constexpr size_t kAltStackSize = 256 * 1024;

Engine* g_engine = nullptr;
bool g_installed = false;

// A traced write in progress: pages mapped writable until the single step ends, in the window of
// the view whose access trapped.
struct Step {
  bool active = false;
  const WindowShadow* view = nullptr;
  std::vector<uint32_t> lpns;
};
Step g_step;

struct sigaction g_previous[NSIG];

// Not a TC fault: hand it to whoever handled the signal before the engine (the window tests'
// probes, host code), or let the default action kill the process with the right signal.
void not_ours(int sig, siginfo_t* si, void* ctx) {
  const struct sigaction& p = g_previous[sig];
  if ((p.sa_flags & SA_SIGINFO) && p.sa_sigaction) return p.sa_sigaction(sig, si, ctx);
  if (!(p.sa_flags & SA_SIGINFO) && p.sa_handler != SIG_DFL && p.sa_handler != SIG_IGN) return p.sa_handler(sig);
  signal(sig, SIG_DFL);
  raise(sig);  // blocked until the handler returns, then kills with the right signal
}

void leave_tc(Engine& e, greg_t* g, const GuestException& exc, uint32_t eip) {
  e.record_fault(exc, eip);
  if (translator::Ccf* c = e.cache().by_host(static_cast<uint64_t>(g[REG_RIP])))
    c->note_early_exit(eip, translator::EarlyExit::kSkipped);
  g[REG_RIP] = static_cast<greg_t>(e.exit_common());
}

void begin_step(Engine& e, greg_t* g, const WindowShadow& v, uint32_t la, const mmu::Translation& t) {
  const uint32_t lpn = la >> kPageShift;
  const Mpn mpn = e.memory().pmap().lookup(ppn_of(t.phys));
  v.mapper.map(LinearAddr(lpn << kPageShift), 1, mpn, mmu::Prot::kReadWrite);
  g_step.view = &v;
  g_step.lpns.push_back(lpn);
  g_step.active = true;
  g[REG_EFL] |= kTf;
}

// After the single step: restore what the shadow says each page is, and if the write invalidated
// the CCF being run, leave it at the next guest instruction boundary.
void finish_step(Engine& e, greg_t* g) {
  for (uint32_t lpn : g_step.lpns) {
    const LinearAddr la(lpn << kPageShift);
    if (const mmu::ShadowPage* p = g_step.view->shadow.mapping(la))
      g_step.view->mapper.map(la, 1, p->mpn, p->prot);
    else
      g_step.view->mapper.unmap(la, 1);
  }
  g_step.lpns.clear();
  g_step.view = nullptr;
  g_step.active = false;
  g[REG_EFL] &= ~greg_t(kTf);
  const auto rip = static_cast<uint64_t>(g[REG_RIP]);
  translator::Ccf* ccf = e.cache().by_host(rip);
  if (!ccf || ccf->valid) return;
  for (const translator::EmittedRange& r : ccf->map) {
    if (reinterpret_cast<uint64_t>(ccf->host) + r.host_offset != rip) continue;
    e.vcpu().eip = r.guest_eip;
    e.vcpu().exit_reason = TcExit::kInvalidate;
    ccf->note_early_exit(r.guest_eip, translator::EarlyExit::kSkipped);
    g[REG_RIP] = static_cast<greg_t>(e.exit_common());
    return;
  }
}

// A CPL 3 string instruction runs with RSI/RDI rebased into the user window (emit_user_string.cpp):
// before the guest sees them (exception, emulation), they become 32-bit guest offsets again.
void unbase(greg_t* g, const translator::EmittedRange& r, uint64_t base) {
  if (!r.based_rsi_rdi) return;
  g[REG_RSI] = static_cast<greg_t>((static_cast<uint64_t>(g[REG_RSI]) - base) & 0xffffffffu);
  g[REG_RDI] = static_cast<greg_t>((static_cast<uint64_t>(g[REG_RDI]) - base) & 0xffffffffu);
}

void emulate_in_monitor(Engine& e, greg_t* g, uint32_t eip) {
  c_emulate.inc();
  e.record_emulation(eip);
  if (translator::Ccf* c = e.cache().by_host(static_cast<uint64_t>(g[REG_RIP])))
    c->note_early_exit(eip, translator::EarlyExit::kMonitorRuns);
  g[REG_RIP] = static_cast<greg_t>(e.exit_common());
}

void on_memory_fault(Engine& e, greg_t* g, const siginfo_t* si, const translator::Ccf& ccf,
                     const translator::EmittedRange& range, uint32_t eip) {
  const auto addr = reinterpret_cast<uint64_t>(si->si_addr);
  const WindowShadow& v = e.view(ccf.key.cpl);
  const std::optional<LinearAddr> la = v.linear(addr);
  if (ccf.key.cpl == 3 && e.supervisor_view().linear(addr)) {
    // Every CPL 3 access goes through GS or a rebased register; reaching the supervisor window
    // would let user code see supervisor pages. A translator bug: stop rather than run on.
    e.record_unsupported(fmt::format("CPL 3 code at guest EIP {:#x} accessed the supervisor window at {:#x}", eip, addr));
    g[REG_RIP] = static_cast<greg_t>(e.exit_common());
    return;
  }
  if (g[REG_TRAPNO] != 14 || !la) {
    if (range.based_rsi_rdi) {
      // A string instruction that wraps at 4 GiB walked into the user window's guards.
      unbase(g, range, v.base);
      return emulate_in_monitor(e, g, eip);
    }
    c_gp.inc();
    leave_tc(e, g, gp(0), eip);
    return;
  }
  const bool write = g[REG_ERR] & 2;  // SDM vol. 3 4.7: error code bit 1 = write access
  const mmu::FillResult r = v.shadow.fill(*la, write ? mmu::AccessKind::kWrite : mmu::AccessKind::kRead);
  switch (r.status) {
    case mmu::FillStatus::kMapped:
      c_hidden.inc();
      return;
    case mmu::FillStatus::kGuestFault:
      c_guest_pf.inc();
      unbase(g, range, v.base);
      leave_tc(e, g, GuestException{kPf, true, r.fault->error_code, r.fault->cr2.value}, eip);
      return;
    case mmu::FillStatus::kTracedWrite:
      c_traced.inc();
      begin_step(e, g, v, la->value, r.translation);
      e.note_traced_write(eip, e.cache().by_host(static_cast<uint64_t>(g[REG_RIP])));
      return;
    case mmu::FillStatus::kNotRam:
    case mmu::FillStatus::kEmulate:
      break;
  }
  // Guest page 0 or memory the guest's tables lead outside RAM: the monitor executes this one
  // instruction through CpuEnv (runtime/cpu/emulate_memory.h).
  unbase(g, range, v.base);
  emulate_in_monitor(e, g, eip);
}

void on_signal(int sig, siginfo_t* si, void* ctx) {
  greg_t* g = static_cast<ucontext_t*>(ctx)->uc_mcontext.gregs;
  const auto rip = static_cast<uint64_t>(g[REG_RIP]);
  Engine* e = g_engine;
  if (!e) return not_ours(sig, si, ctx);
  if (sig == SIGTRAP && g_step.active) return finish_step(*e, g);
  if (!e->tc().contains(rip)) return not_ours(sig, si, ctx);
  translator::Ccf* ccf = e->cache().by_host(rip);
  const translator::EmittedRange* range = ccf ? ccf->range_at(rip) : nullptr;
  // A fault in the TC outside any guest instruction (trampolines, exit stubs) is a btvmm bug.
  if (!range) return not_ours(sig, si, ctx);
  const std::optional<uint32_t> eip = range->guest_eip;
  switch (sig) {
    case SIGSEGV:
    case SIGBUS:
      return on_memory_fault(*e, g, si, *ccf, *range, *eip);
    case SIGFPE:
      // SDM vol. 3 6.15: #DE for divide by zero and quotient overflow; x87/SIMD errors are #MF/#XM.
      if (si->si_code == FPE_INTDIV || si->si_code == FPE_INTOVF) {
        c_de.inc();
        return leave_tc(*e, g, GuestException{kDe, false, 0, 0}, *eip);
      }
      c_mf.inc();
      return leave_tc(*e, g, GuestException{kMf, false, 0, 0}, *eip);
    case SIGILL:
      c_ud.inc();
      return leave_tc(*e, g, ud(), *eip);
    default:
      return not_ours(sig, si, ctx);
  }
}

void ensure_altstack() {
  stack_t cur{};
  sigaltstack(nullptr, &cur);
  if (!(cur.ss_flags & SS_DISABLE)) return;
  thread_local std::unique_ptr<uint8_t[]> mem(new uint8_t[kAltStackSize]);
  stack_t ss{};
  ss.ss_sp = mem.get();
  ss.ss_size = kAltStackSize;
  if (sigaltstack(&ss, nullptr) != 0) throw_errno("sigaltstack(TC fault handler)");
}

}  // namespace

void install_tc_fault_handler(Engine* engine) {
  g_engine = engine;
  ensure_altstack();
  if (g_installed) return;
  struct sigaction sa{};
  sa.sa_sigaction = on_signal;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  for (int s : kSignals)
    if (sigaction(s, &sa, &g_previous[s]) != 0) throw_errno("sigaction(TC fault handler)");
  g_installed = true;
}

void uninstall_tc_fault_handler(Engine* engine) {
  if (g_engine != engine) return;
  g_engine = nullptr;
  for (int s : kSignals) sigaction(s, &g_previous[s], nullptr);
  g_installed = false;
}

void set_active_engine(Engine* engine) {
  g_engine = engine;
  ensure_altstack();
}

}  // namespace btvmm::runtime::engine
