#include "host/kvm_probe.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include <fmt/format.h>

#include "host/owned_fd.h"

namespace btvmm::host {

namespace {

constexpr uint64_t kProbeBytes = 3 * 4096;  // code page, page directory, page table
constexpr uint32_t kPageDirectory = 0x1000;
constexpr uint32_t kPageTable = 0x2000;
constexpr uint16_t kProbePort = 0x80;
constexpr uint8_t kProbeValue = 0x42;

// At guest address 0, 32-bit protected mode, paging off.
constexpr uint8_t kProbeCode[] = {
    0xb8, 0x00, 0x10, 0x00, 0x00,  // mov eax, kPageDirectory
    0x0f, 0x22, 0xd8,              // mov cr3, eax
    0x0f, 0x20, 0xc0,              // mov eax, cr0
    0x0d, 0x01, 0x00, 0x00, 0x80,  // or eax, PG | PE
    0x0f, 0x22, 0xc0,              // mov cr0, eax   (kvm_pvm: #GP -> triple fault)
    0xb0, kProbeValue,             // mov al, kProbeValue
    0xe6, kProbePort,              // out kProbePort, al
    0xf4,                          // hlt
};

// An mmap that unmaps itself: the probe's RAM (anonymous) and its vCPU's kvm_run (the vCPU fd).
class Mapping {
 public:
  explicit Mapping(size_t n, int flags = MAP_PRIVATE | MAP_ANONYMOUS, int fd = -1)
      : n_(n), p_(mmap(nullptr, n, PROT_READ | PROT_WRITE, flags, fd, 0)) {}
  ~Mapping() {
    if (p_ != MAP_FAILED) munmap(p_, n_);
  }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  uint8_t* bytes() const { return p_ == MAP_FAILED ? nullptr : static_cast<uint8_t*>(p_); }

 private:
  size_t n_;
  void* p_;
};

kvm_segment flat_segment(uint16_t selector, uint8_t type) {
  kvm_segment s{};
  s.base = 0;
  s.limit = 0xffffffff;
  s.selector = selector;
  s.type = type;
  s.present = 1;
  s.s = 1;
  s.db = 1;
  s.g = 1;
  return s;
}

std::string errno_text(const char* what) { return fmt::format("{}: {}", what, std::strerror(errno)); }

bool kvm_pvm_loaded() { return access("/sys/module/kvm_pvm", F_OK) == 0; }

}  // namespace

std::string kvm_probe_paged_32bit_guest(int kvm_fd) {
  Mapping mem(kProbeBytes);
  uint8_t* g = mem.bytes();
  if (!g) return errno_text("probe: mmap");
  std::memcpy(g, kProbeCode, sizeof kProbeCode);
  auto put32 = [&](uint32_t at, uint32_t v) { std::memcpy(g + at, &v, 4); };
  put32(kPageDirectory, kPageTable | 0x3);  // present, writable
  for (uint32_t page = 0; page < kProbeBytes / 4096; ++page) put32(kPageTable + 4 * page, page * 4096 | 0x3);

  OwnedFd vm(ioctl(kvm_fd, KVM_CREATE_VM, 0));
  if (vm.get() < 0) return errno_text("probe: KVM_CREATE_VM");
  kvm_userspace_memory_region region{};
  region.memory_size = kProbeBytes;
  region.userspace_addr = reinterpret_cast<uint64_t>(g);
  if (ioctl(vm.get(), KVM_SET_USER_MEMORY_REGION, &region) < 0) return errno_text("probe: KVM_SET_USER_MEMORY_REGION");
  OwnedFd vcpu(ioctl(vm.get(), KVM_CREATE_VCPU, 0));
  if (vcpu.get() < 0) return errno_text("probe: KVM_CREATE_VCPU");
  int run_size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
  if (run_size <= 0) return errno_text("probe: KVM_GET_VCPU_MMAP_SIZE");
  Mapping run_page(static_cast<size_t>(run_size), MAP_SHARED, vcpu.get());
  if (!run_page.bytes()) return errno_text("probe: mmap(kvm_run)");
  auto* run = reinterpret_cast<kvm_run*>(run_page.bytes());

  kvm_sregs sregs{};
  if (ioctl(vcpu.get(), KVM_GET_SREGS, &sregs) < 0) return errno_text("probe: KVM_GET_SREGS");
  sregs.cs = flat_segment(0x08, 0xb);  // execute/read, accessed
  sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = flat_segment(0x10, 0x3);  // read/write, accessed
  sregs.cr0 = 0x1;  // PE
  sregs.cr4 = 0;
  sregs.efer = 0;
  if (ioctl(vcpu.get(), KVM_SET_SREGS, &sregs) < 0) return errno_text("probe: KVM_SET_SREGS");
  kvm_regs regs{};
  regs.rip = 0;
  regs.rflags = 0x2;
  if (ioctl(vcpu.get(), KVM_SET_REGS, &regs) < 0) return errno_text("probe: KVM_SET_REGS");

  for (int exits = 0; exits < 16; ++exits) {
    if (ioctl(vcpu.get(), KVM_RUN, 0) < 0) {
      if (errno == EINTR) continue;
      return errno_text("probe: KVM_RUN");
    }
    switch (run->exit_reason) {
      case KVM_EXIT_IO: {
        auto* data = reinterpret_cast<uint8_t*>(run) + run->io.data_offset;
        if (run->io.port == kProbePort && run->io.direction == KVM_EXIT_IO_OUT && *data == kProbeValue) return {};
        return fmt::format("probe: unexpected port access {:#x}", run->io.port);
      }
      case KVM_EXIT_SHUTDOWN:
        return fmt::format("this KVM cannot run a 32-bit guest with paging: a probe guest triple-faulted when it set CR0.PG{}",
                           kvm_pvm_loaded() ? " (module kvm_pvm is loaded: PVM runs only 64-bit PVM-aware kernels)" : "");
      case KVM_EXIT_HLT: return "probe: the guest halted before its port write";
      default: return fmt::format("probe: unexpected KVM exit reason {}", run->exit_reason);
    }
  }
  return "probe: the guest never reached its port write";
}

}  // namespace btvmm::host
