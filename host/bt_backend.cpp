// `--accel bt` (see bt_backend.h). The vCPU thread is the only thread that runs while the guest
// does: device deadlines and outside wake-ups reach translated code through a POSIX timer signal
// aimed at this thread, never through a helper thread (a second running thread makes every shadow
// mmap/munmap send TLB-shootdown IPIs). Never blocks the vCPU except in guest HLT.
#include "host/bt_backend.h"

#include <poll.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>

#include "core/error.h"
#include "core/stats.h"
#include "host/direct_user_runner.h"
#include "host/tc_trace.h"
#include "host/vcpu_boot_state.h"
#include "mmu/host_map_count.h"
#include "mmu/shadow_mmu.h"
#include "mmu/window_mapper.h"
#include "mmu/write_traces.h"
#include "runtime/engine/dispatcher.h"
#include "runtime/monitor_env.h"

namespace btvmm::host {

namespace {

// Longest the vCPU goes without servicing devices: bounds the delay of console input, Ctrl-a x
// and --timeout, which only write the machine's wake eventfd.
constexpr uint64_t kMaxQuietNs = 10'000'000;
// Shortest arming: a deadline already due (a device still reports one at or before `now` after it
// was polled) must not set `attention` again before translated code has run a little, or every
// fragment entry would exit at once and the guest would make no progress.
constexpr uint64_t kMinQuietNs = 100'000;

stats::Counter c_timer_arms{"bt.timer_arms", "arming of the attention timer (device deadline or the 10 ms bound)"};

volatile uint32_t* g_attention = nullptr;
std::atomic<bool> g_timer_fired{true};
static_assert(std::atomic<bool>::is_always_lock_free, "the timer handler must not take a lock");
// While guest user code runs directly, the vCPU thread waits for the stub: the timer kicks it.
std::atomic<const DirectUserRunner*> g_direct{nullptr};

// Async-signal-safe: two stores, and a kill(2) under direct execution. Translated code sees
// `attention` at its next CCF entry; a direct run ends at the kick.
void on_timer_signal(int) {
  g_timer_fired.store(true, std::memory_order_relaxed);
  if (g_attention) *g_attention = 1;
  if (const DirectUserRunner* d = g_direct.load(std::memory_order_relaxed)) d->kick();
}

// A one-shot CLOCK_MONOTONIC timer delivering timer_signal() to the vCPU thread only
// (SIGEV_THREAD_ID, timer_create(2)). Re-armed only after it fired or when an earlier deadline
// appears, so the dispatcher's pass costs no system call when nothing changed.
class AttentionTimer {
 public:
  explicit AttentionTimer(volatile uint32_t& attention) {
    struct sigaction sa{};
    sa.sa_handler = on_timer_signal;
    // SA_ONSTACK: the signal may land while translated code runs on the guest's stack (DESIGN.md
    // 7 "Stacks"); the engine installs the sigaltstack. SA_RESTART: monitor I/O is not cut short.
    sa.sa_flags = SA_ONSTACK | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(signal(), &sa, &previous_) != 0) throw_errno("sigaction(BT attention timer)");
    g_attention = &attention;
    g_timer_fired.store(true, std::memory_order_relaxed);
    struct sigevent ev{};
    ev.sigev_notify = SIGEV_THREAD_ID;
    ev.sigev_signo = signal();
    ev._sigev_un._tid = gettid();  // glibc 2.36 has no sigev_notify_thread_id name for it
    if (timer_create(CLOCK_MONOTONIC, &ev, &timer_) != 0) {
      sigaction(signal(), &previous_, nullptr);
      throw_errno("timer_create(BT attention timer)");
    }
  }
  ~AttentionTimer() {
    timer_delete(timer_);
    g_attention = nullptr;
    sigaction(signal(), &previous_, nullptr);
  }
  AttentionTimer(const AttentionTimer&) = delete;
  AttentionTimer& operator=(const AttentionTimer&) = delete;

  static int signal() { return SIGRTMIN + 2; }

  // `deadline` and `now` in Machine clock time; the timer fires at min(deadline, now + quiet).
  void arm(uint64_t deadline, uint64_t now) {
    const uint64_t at = std::clamp(deadline, now + kMinQuietNs, now + kMaxQuietNs);
    if (!g_timer_fired.load(std::memory_order_relaxed) && at >= armed_at_) return;
    c_timer_arms.inc();
    const uint64_t in = at - now;
    struct itimerspec its{};
    its.it_value.tv_sec = static_cast<time_t>(in / 1000000000);
    its.it_value.tv_nsec = static_cast<long>(in % 1000000000);
    // Cleared before arming: a signal of the previous arming that lands late only costs a pass.
    g_timer_fired.store(false, std::memory_order_relaxed);
    armed_at_ = at;
    if (timer_settime(timer_, 0, &its, nullptr) != 0) throw_errno("timer_settime(BT attention timer)");
  }
  // Whether arming could change anything: it fired, or `deadline` is earlier than the armed one.
  bool wants(uint64_t deadline) const { return g_timer_fired.load(std::memory_order_relaxed) || deadline < armed_at_; }

 private:
  timer_t timer_{};
  struct sigaction previous_{};
  uint64_t armed_at_ = UINT64_MAX;
};

// The engine's view of the machine: PIC, device servicing, HLT sleep, stop requests.
class MachineHost final : public runtime::engine::ExecutionHost {
 public:
  MachineHost(Machine& m, AttentionTimer& timer) : m_(m), timer_(timer) {}

  bool interrupt_pending() override { return m_.interrupts().has_interrupt(); }
  uint8_t acknowledge_interrupt() override { return m_.interrupts().acknowledge(); }
  void service_devices() override {
    m_.consume_wake();
    next_deadline_ = m_.service_devices();
    if (timer_.wants(next_deadline_)) timer_.arm(next_deadline_, m_.now_ns());
  }
  bool stop_requested() override { return m_.stop_reason() != StopReason::kNone; }
  void wait_for_interrupt() override {
    uint64_t now = m_.now_ns();
    if (interrupt_pending() || next_deadline_ <= now) return;
    // Bounded sleep: a deadline far away still wakes us to look at stop requests. The timer
    // signal may end it early (EINTR); the dispatcher then simply looks again.
    int timeout_ms = static_cast<int>(std::min<uint64_t>((next_deadline_ - now + 999999) / 1000000, 50));
    struct pollfd pfd = {m_.wake_fd(), POLLIN, 0};
    poll(&pfd, 1, timeout_ms);
  }

 private:
  Machine& m_;
  AttentionTimer& timer_;
  uint64_t next_deadline_ = 0;
};

class BtBackend final : public CpuBackend {
 public:
  BtBackend(mmu::GuestWindows& windows, BtOptions options) : windows_(windows), options_(options) {}

  void run(Machine& m, const BootPlan& plan) override {
    runtime::VcpuState vcpu = vcpu_from_boot_plan(plan.cpu);
    mmu::GuestMemory& mem = m.memory();
    mmu::WriteTraces& traces = m.write_traces();  // shared with device DMA (Machine::dma)
    // Two shadows, one per window (DESIGN.md 2), sharing the traces and one VMA budget:
    // vm.max_map_count counts the whole process, and either window may need most of it (a user
    // program touching a large array in random order maps each page as a VMA of its own).
    mmu::WindowMapper mapper(windows_.supervisor, mem.machine().fd());
    mmu::WindowMapper user_mapper(windows_.user, mem.machine().fd());
    mmu::VmaBudget vmas(mmu::shadow_vma_budget(mmu::read_host_map_count()));
    mmu::ShadowConfig supervisor_config;
    supervisor_config.max_vmas = vmas.limit();
    supervisor_config.shared_vmas = &vmas;
    mmu::ShadowConfig user_config = supervisor_config;
    user_config.view = mmu::ShadowView::kUser;
    const mmu::GuestPagingState paging{vcpu.cr0, vcpu.cr3, vcpu.cr4};
    mmu::ShadowMmu shadow(mem, mapper, traces, paging, supervisor_config);
    mmu::ShadowMmu user_shadow(mem, user_mapper, traces, paging, user_config);
    runtime::MonitorEnv env(vcpu, mem, traces, m.ports(), m.mmio());
    AttentionTimer timer(vcpu.attention);
    MachineHost host(m, timer);
    runtime::engine::EngineConfig config;
    config.chaining = options_.chaining;
    config.count_executions = options_.count_executions;
    if (!options_.adaptive) config.adaptive_threshold = 0;
    config.inline_rdtsc = true;  // MonitorEnv::host_tsc() is the hardware TSC
    runtime::engine::Engine engine(vcpu, env, host, mem, {shadow, mapper, windows_.supervisor.base()},
                                   {user_shadow, user_mapper, windows_.user.base()}, config);
    if (options_.trace) engine.set_trace([t = options_.trace](const runtime::engine::CcfTraceEvent& e) { t->on_ccf(e); });
    if (options_.trace) engine.set_event_trace([t = options_.trace](const translator::TcEvent& e) { t->on_event(e); });
    env.set_paging_hook([&engine](runtime::PagingEvent what, uint32_t addr) { engine.paging_changed(what, addr); });
    std::unique_ptr<DirectUserRunner> direct;
    if (options_.direct) {
      direct = std::make_unique<DirectUserRunner>(mem, traces, paging);
      engine.set_user_runner(direct.get());
      g_direct.store(direct.get());
    }
    // Before `direct` goes (declared after it): the timer handler must never kick a dead stub.
    struct DirectOff {
      ~DirectOff() { g_direct.store(nullptr); }
    } direct_off;

    const runtime::engine::RunResult result = engine.run();
    mapper.unmap_all();
    user_mapper.unmap_all();
    switch (result) {
      case runtime::engine::RunResult::kStopped: break;
      case runtime::engine::RunResult::kTripleFault: m.triple_fault(); break;
      case runtime::engine::RunResult::kUnsupported:
        fail(ExitCode::kInternal, "binary translator: {} (guest EIP {:#010x})", engine.last_error(), vcpu.eip);
    }
  }

 private:
  mmu::GuestWindows& windows_;
  BtOptions options_;
};

}  // namespace

std::unique_ptr<CpuBackend> make_bt_backend(mmu::GuestWindows& windows, BtOptions options) {
  return std::make_unique<BtBackend>(windows, options);
}

}  // namespace btvmm::host
