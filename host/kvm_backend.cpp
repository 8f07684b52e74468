#include "host/kvm_backend.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/stats.h"
#include "host/kvm_probe.h"
#include "host/owned_fd.h"

namespace btvmm::host {

namespace {

stats::Counter c_exits_io{"kvm.exits_io", "KVM exits for port I/O"};
stats::Counter c_exits_mmio{"kvm.exits_mmio", "KVM exits for MMIO"};
stats::Counter c_exits_hlt{"kvm.exits_hlt", "KVM exits for HLT"};
stats::Counter c_exits_intr{"kvm.exits_intr", "KVM_RUN interrupted by the kick signal"};
stats::Counter c_exits_window{"kvm.exits_irq_window", "KVM exits because an interrupt window opened"};
stats::Counter c_injected{"kvm.irqs_injected", "interrupts injected with KVM_INTERRUPT"};

// struct kvm_cpuid2 ends in __DECLARE_FLEX_ARRAY, which under C++ (linux-libc-dev 6.1) adds a
// one-byte empty struct before the array: sizeof becomes 12 and entries move to offset 12. The
// ioctl numbers encode that size, so the kernel rejects them with EINVAL, and the entries would
// be read from the wrong place. The kernel's layout is this 8-byte header followed by entries.
struct CpuidHeader {
  uint32_t nent;
  uint32_t padding;
};
static_assert(sizeof(CpuidHeader) == 8);
constexpr unsigned long kGetSupportedCpuid = _IOWR(KVMIO, 0x05, CpuidHeader);
constexpr unsigned long kSetCpuid2 = _IOW(KVMIO, 0x90, CpuidHeader);
// The kernel's numbers (C's sizeof(struct kvm_cpuid2) is 8): a wrong size fails here, not at run time.
static_assert(kGetSupportedCpuid == 0xc008ae05 && kSetCpuid2 == 0x4008ae90);

constexpr int kKickSignal = SIGUSR1;
constexpr uint32_t kTssAddr = 0xfffbd000;  // below 4 GiB, above any guest RAM (-m <= 3 GiB)

// The vCPU's kvm_run page, for the kick signal handler (one vCPU per process).
std::atomic<kvm_run*> g_run{nullptr};

void on_kick(int) {
  // immediate_exit makes a KVM_RUN that is about to start return EINTR at once, closing the
  // race between checking for work and entering the guest (Documentation/virt/kvm/api.rst).
  if (kvm_run* r = g_run.load(std::memory_order_relaxed)) r->immediate_exit = 1;
}

int checked_ioctl(int fd, unsigned long req, const char* name, unsigned long arg = 0) {
  int r = ioctl(fd, req, arg);
  if (r < 0) throw_errno(std::string("ioctl(") + name + ")");
  return r;
}

kvm_segment to_kvm(const SegmentInit& s) {
  kvm_segment k{};
  k.base = s.base;
  k.limit = s.limit;
  k.selector = s.selector;
  k.type = s.type;
  k.present = s.present;
  k.dpl = s.dpl;
  k.db = s.db;
  k.s = s.code_or_data;
  k.l = 0;
  k.g = s.granularity;
  return k;
}

class KvmBackend : public CpuBackend {
 public:
  void run(Machine& m, const BootPlan& plan) override;

 private:
  void setup(Machine& m, const BootPlan& plan);
  void set_cpuid();
  void handle_io(Machine& m);
  void handle_mmio(Machine& m);
  void inject_interrupts(Machine& m);
  void wait_for_interrupt(Machine& m, uint64_t deadline);

  OwnedFd kvm_, vm_, vcpu_;
  kvm_run* run_ = nullptr;
  size_t run_size_ = 0;
  std::atomic<uint64_t> next_deadline_{UINT64_MAX};
  std::atomic<bool> done_{false};
};

void KvmBackend::setup(Machine& m, const BootPlan& plan) {
  kvm_ = OwnedFd(open("/dev/kvm", O_RDWR | O_CLOEXEC));
  if (kvm_.get() < 0) throw_errno("open(/dev/kvm)");
  if (ioctl(kvm_.get(), KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
    fail(ExitCode::kAccelUnavailable, "/dev/kvm: unsupported KVM API version");
  vm_ = OwnedFd(checked_ioctl(kvm_.get(), KVM_CREATE_VM, "KVM_CREATE_VM"));
  checked_ioctl(vm_.get(), KVM_SET_TSS_ADDR, "KVM_SET_TSS_ADDR", kTssAddr);

  // Guest RAM is the machine-memory memfd, mapped once; the pmap must be the identity here
  // (KVM sees one slot), which holds until page sharing remaps pages.
  auto& mem = m.memory();
  kvm_userspace_memory_region region{};
  region.slot = 0;
  region.guest_phys_addr = 0;
  region.memory_size = mem.size();
  region.userspace_addr = reinterpret_cast<uint64_t>(mem.machine().base());
  if (ioctl(vm_.get(), KVM_SET_USER_MEMORY_REGION, &region) < 0) throw_errno("ioctl(KVM_SET_USER_MEMORY_REGION)");

  vcpu_ = OwnedFd(checked_ioctl(vm_.get(), KVM_CREATE_VCPU, "KVM_CREATE_VCPU", 0));
  int size = checked_ioctl(kvm_.get(), KVM_GET_VCPU_MMAP_SIZE, "KVM_GET_VCPU_MMAP_SIZE");
  run_size_ = static_cast<size_t>(size);
  void* p = mmap(nullptr, run_size_, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu_.get(), 0);
  if (p == MAP_FAILED) throw_errno("mmap(kvm_run)");
  run_ = static_cast<kvm_run*>(p);
  set_cpuid();

  kvm_sregs sregs{};
  if (ioctl(vcpu_.get(), KVM_GET_SREGS, &sregs) < 0) throw_errno("ioctl(KVM_GET_SREGS)");
  const BootCpuState& c = plan.cpu;
  sregs.cs = to_kvm(c.cs);
  sregs.ds = to_kvm(c.ds);
  sregs.es = to_kvm(c.es);
  sregs.fs = to_kvm(c.fs);
  sregs.gs = to_kvm(c.gs);
  sregs.ss = to_kvm(c.ss);
  sregs.gdt.base = c.gdt_base;
  sregs.gdt.limit = static_cast<uint16_t>(c.gdt_limit);
  sregs.idt.base = c.idt_base;
  sregs.idt.limit = static_cast<uint16_t>(c.idt_limit);
  sregs.cr0 = c.cr0;
  sregs.cr4 = 0;
  sregs.efer = 0;
  if (ioctl(vcpu_.get(), KVM_SET_SREGS, &sregs) < 0) throw_errno("ioctl(KVM_SET_SREGS)");

  kvm_regs regs{};
  regs.rax = c.eax, regs.rbx = c.ebx, regs.rcx = c.ecx, regs.rdx = c.edx;
  regs.rsi = c.esi, regs.rdi = c.edi, regs.rbp = c.ebp, regs.rsp = c.esp;
  regs.rip = c.eip;
  regs.rflags = c.eflags;
  if (ioctl(vcpu_.get(), KVM_SET_REGS, &regs) < 0) throw_errno("ioctl(KVM_SET_REGS)");
}

// A coherent guest CPU: what KVM supports, minus what this machine does not have (no local
// APIC: the PIC is in user space; no x2APIC, TSC-deadline; no paravirtual leaves, since btvmm
// implements no paravirtual interface: CONVENTIONS.md).
void KvmBackend::set_cpuid() {
  constexpr int kMaxEntries = 256;
  std::vector<uint8_t> buf(sizeof(CpuidHeader) + kMaxEntries * sizeof(kvm_cpuid_entry2));
  auto* header = reinterpret_cast<CpuidHeader*>(buf.data());
  auto* entries = reinterpret_cast<kvm_cpuid_entry2*>(buf.data() + sizeof(CpuidHeader));
  header->nent = kMaxEntries;
  if (ioctl(kvm_.get(), kGetSupportedCpuid, buf.data()) < 0) throw_errno("ioctl(KVM_GET_SUPPORTED_CPUID)");
  uint32_t out = 0;
  for (uint32_t i = 0; i < header->nent; ++i) {
    kvm_cpuid_entry2 e = entries[i];
    if (e.function >= 0x40000000 && e.function < 0x50000000) continue;
    if (e.function == 1) {
      e.edx &= ~(1u << 9);   // APIC
      e.ecx &= ~(1u << 21);  // x2APIC
      e.ecx &= ~(1u << 24);  // TSC-deadline
      e.ecx &= ~(1u << 31);  // hypervisor present
    }
    entries[out++] = e;
  }
  header->nent = out;
  if (ioctl(vcpu_.get(), kSetCpuid2, buf.data()) < 0) throw_errno("ioctl(KVM_SET_CPUID2)");
}

void KvmBackend::handle_io(Machine& m) {
  c_exits_io.inc();
  auto& io = run_->io;
  auto* data = reinterpret_cast<uint8_t*>(run_) + io.data_offset;
  for (uint32_t i = 0; i < io.count; ++i, data += io.size) {
    if (io.direction == KVM_EXIT_IO_OUT) {
      uint32_t v = 0;
      std::memcpy(&v, data, io.size);
      m.ports().write(io.port, io.size, v);
    } else {
      uint32_t v = m.ports().read(io.port, io.size);
      std::memcpy(data, &v, io.size);
    }
  }
}

void KvmBackend::handle_mmio(Machine& m) {
  c_exits_mmio.inc();
  auto& mm = run_->mmio;
  unsigned len = std::min<unsigned>(mm.len, 8);
  if (mm.is_write) {
    uint64_t v = 0;
    std::memcpy(&v, mm.data, len);
    m.mmio().write(mm.phys_addr, len, v);
  } else {
    uint64_t v = m.mmio().read(mm.phys_addr, len);
    std::memcpy(mm.data, &v, len);
  }
}

void KvmBackend::inject_interrupts(Machine& m) {
  auto& pic = m.interrupts();
  if (!pic.has_interrupt()) {
    run_->request_interrupt_window = 0;
    return;
  }
  if (run_->ready_for_interrupt_injection && run_->if_flag) {
    kvm_interrupt irq{};
    irq.irq = pic.acknowledge();
    if (ioctl(vcpu_.get(), KVM_INTERRUPT, &irq) < 0) throw_errno("ioctl(KVM_INTERRUPT)");
    c_injected.inc();
    run_->request_interrupt_window = 0;
  } else {
    run_->request_interrupt_window = 1;  // exit as soon as the guest can take it
  }
}

// HLT: sleep until a timed device fires or something from outside (input, quit) arrives.
void KvmBackend::wait_for_interrupt(Machine& m, uint64_t deadline) {
  uint64_t now = m.now_ns();
  if (m.interrupts().has_interrupt() || deadline <= now) return;
  int timeout_ms = deadline == UINT64_MAX ? 100 : static_cast<int>(std::min<uint64_t>((deadline - now + 999999) / 1000000, 100));
  struct pollfd pfd = {m.wake_fd(), POLLIN, 0};
  if (poll(&pfd, 1, timeout_ms) > 0) m.consume_wake();
}

void KvmBackend::run(Machine& m, const BootPlan& plan) {
  setup(m, plan);
  struct sigaction sa {};
  sa.sa_handler = on_kick;
  sigemptyset(&sa.sa_mask);
  sigaction(kKickSignal, &sa, nullptr);  // no SA_RESTART: KVM_RUN must return EINTR
  g_run.store(run_);

  // The kicker wakes the vCPU out of KVM_RUN when a device deadline passes or input arrives,
  // since the PIT and UART are modelled in this process, not in the kernel.
  pthread_t vcpu_thread = pthread_self();
  std::thread kicker([&] {
    while (!done_.load()) {
      uint64_t now = m.now_ns(), deadline = next_deadline_.load();
      int timeout_ms = deadline <= now ? 0 : static_cast<int>(std::min<uint64_t>((deadline - now) / 1000000 + 1, 10));
      struct pollfd pfd = {m.wake_fd(), POLLIN, 0};
      poll(&pfd, 1, timeout_ms);
      if (!done_.load()) pthread_kill(vcpu_thread, kKickSignal);
      if (pfd.revents) std::this_thread::sleep_for(std::chrono::milliseconds(1));  // the vCPU consumes the wake
    }
  });
  struct Joiner {
    std::thread& t;
    std::atomic<bool>& done;
    ~Joiner() {
      done.store(true);
      t.join();
      g_run.store(nullptr);
    }
  } joiner{kicker, done_};

  bool halted = false;
  while (m.stop_reason() == StopReason::kNone) {
    m.consume_wake();
    uint64_t deadline = m.service_devices();
    next_deadline_.store(deadline);
    if (halted) {
      wait_for_interrupt(m, deadline);
      deadline = m.service_devices();
      if (!m.interrupts().has_interrupt()) continue;
      halted = false;
    }
    inject_interrupts(m);
    int r = ioctl(vcpu_.get(), KVM_RUN, 0);
    run_->immediate_exit = 0;
    if (r < 0) {
      if (errno == EINTR || errno == EAGAIN) {
        c_exits_intr.inc();
        continue;
      }
      throw_errno("ioctl(KVM_RUN)");
    }
    switch (run_->exit_reason) {
      case KVM_EXIT_IO: handle_io(m); break;
      case KVM_EXIT_MMIO: handle_mmio(m); break;
      case KVM_EXIT_HLT:
        c_exits_hlt.inc();
        halted = true;
        break;
      case KVM_EXIT_IRQ_WINDOW_OPEN: c_exits_window.inc(); break;
      case KVM_EXIT_INTR: c_exits_intr.inc(); break;
      case KVM_EXIT_SHUTDOWN: m.triple_fault(); break;
      case KVM_EXIT_FAIL_ENTRY:
        fail(ExitCode::kInternal, "KVM entry failed (hardware reason {:#x})", run_->fail_entry.hardware_entry_failure_reason);
      case KVM_EXIT_INTERNAL_ERROR:
        fail(ExitCode::kInternal, "KVM internal error (suberror {})", run_->internal.suberror);
      default: fail(ExitCode::kInternal, "unexpected KVM exit reason {}", run_->exit_reason);
    }
  }
}

}  // namespace

std::string kvm_unavailable_reason() {
  int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (fd < 0) return fmt::format("/dev/kvm: {}", std::strerror(errno));
  OwnedFd kvm(fd);
  int version = ioctl(fd, KVM_GET_API_VERSION, 0);
  if (version != KVM_API_VERSION) return fmt::format("/dev/kvm: API version {} (need {})", version, KVM_API_VERSION);
  return kvm_probe_paged_32bit_guest(fd);
}

std::unique_ptr<CpuBackend> make_kvm_backend() { return std::make_unique<KvmBackend>(); }

}  // namespace btvmm::host
