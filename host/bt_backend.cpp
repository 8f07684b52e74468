#include "host/bt_backend.h"

#include <poll.h>

#include <atomic>
#include <thread>

#include "core/error.h"
#include "host/tc_trace.h"
#include "host/vcpu_boot_state.h"
#include "mmu/shadow_mmu.h"
#include "mmu/window_mapper.h"
#include "mmu/write_traces.h"
#include "runtime/engine/dispatcher.h"
#include "runtime/monitor_env.h"

namespace btvmm::host {

namespace {

// The engine's view of the machine: PIC, device servicing, HLT sleep, stop requests.
class MachineHost final : public runtime::engine::ExecutionHost {
 public:
  explicit MachineHost(Machine& m) : m_(m) {}

  bool interrupt_pending() override { return m_.interrupts().has_interrupt(); }
  uint8_t acknowledge_interrupt() override { return m_.interrupts().acknowledge(); }
  void service_devices() override {
    m_.consume_wake();
    next_deadline_.store(m_.service_devices(), std::memory_order_relaxed);
  }
  bool stop_requested() override { return m_.stop_reason() != StopReason::kNone; }
  void wait_for_interrupt() override {
    uint64_t deadline = next_deadline_.load(std::memory_order_relaxed), now = m_.now_ns();
    if (interrupt_pending() || deadline <= now) return;
    // Bounded sleep: a deadline far away still wakes us to look at stop requests.
    int timeout_ms = static_cast<int>(std::min<uint64_t>((deadline - now + 999999) / 1000000, 50));
    struct pollfd pfd = {m_.wake_fd(), POLLIN, 0};
    poll(&pfd, 1, timeout_ms);
  }
  uint64_t next_deadline() const { return next_deadline_.load(std::memory_order_relaxed); }

 private:
  Machine& m_;
  std::atomic<uint64_t> next_deadline_{0};
};

class BtBackend final : public CpuBackend {
 public:
  BtBackend(mmu::Window& window, BtOptions options) : window_(window), options_(options) {}

  void run(Machine& m, const BootPlan& plan) override {
    runtime::VcpuState vcpu = vcpu_from_boot_plan(plan.cpu);
    mmu::GuestMemory& mem = m.memory();
    mmu::WriteTraces traces;
    mmu::WindowMapper mapper(window_, mem.machine().fd());
    mmu::ShadowMmu shadow(mem, mapper, traces, {vcpu.cr0, vcpu.cr3, vcpu.cr4});
    runtime::MonitorEnv env(vcpu, mem, traces, m.ports(), m.mmio());
    MachineHost host(m);
    runtime::engine::EngineConfig config;
    config.chaining = options_.chaining;
    runtime::engine::Engine engine(vcpu, env, host, mem, shadow, mapper, config);
    if (options_.trace) engine.set_trace([t = options_.trace](const runtime::engine::CcfTraceEvent& e) { t->on_ccf(e); });
    env.set_paging_hook([&engine](runtime::PagingEvent what, uint32_t addr) { engine.paging_changed(what, addr); });

    // Translated code only looks at `attention` at fragment entries; the kicker raises it when
    // a device deadline passes or something arrives from outside (input, quit, timeout).
    std::atomic<bool> done{false};
    std::thread kicker([&] {
      while (!done.load()) {
        uint64_t now = m.now_ns(), deadline = host.next_deadline();
        int timeout_ms = deadline <= now ? 1 : static_cast<int>(std::min<uint64_t>((deadline - now) / 1000000 + 1, 10));
        struct pollfd pfd = {m.wake_fd(), POLLIN, 0};
        poll(&pfd, 1, timeout_ms);
        if (m.now_ns() >= host.next_deadline() || pfd.revents) vcpu.attention = 1;
        if (pfd.revents) std::this_thread::sleep_for(std::chrono::microseconds(200));  // the vCPU consumes the wake
      }
    });
    runtime::engine::RunResult result;
    try {
      result = engine.run();
    } catch (...) {
      done.store(true);
      kicker.join();
      throw;
    }
    done.store(true);
    kicker.join();
    mapper.unmap_all();
    switch (result) {
      case runtime::engine::RunResult::kStopped: break;
      case runtime::engine::RunResult::kTripleFault: m.triple_fault(); break;
      case runtime::engine::RunResult::kUnsupported:
        fail(ExitCode::kInternal, "binary translator: {} (guest EIP {:#010x})", engine.last_error(), vcpu.eip);
    }
  }

 private:
  mmu::Window& window_;
  BtOptions options_;
};

}  // namespace

std::unique_ptr<CpuBackend> make_bt_backend(mmu::Window& window, BtOptions options) {
  return std::make_unique<BtBackend>(window, options);
}

}  // namespace btvmm::host
