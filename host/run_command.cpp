#include "host/run_command.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <optional>
#include <cstring>
#include <thread>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/stats.h"
#include "devices/virtio_blk.h"
#include "host/bt_backend.h"
#include "host/direct_user_runner.h"
#include "host/disk_image.h"
#include "host/file_io.h"
#include "host/guest_symbols.h"
#include "host/kernel_loader.h"
#include "host/kvm_backend.h"
#include "host/machine.h"
#include "host/tc_trace.h"
#include "host/terminal.h"
#include "translator/exec_profile.h"
#include "translator/hot_translations.h"

namespace btvmm::host {

namespace {

stats::Counter c_boots{"machine.boots", "guest boots (first boot plus reboots)"};

// The guest's disks, opened once per run: their virtio-blk state (a -snapshot overlay above all)
// lives across guest reboots, as a QEMU process's drives do.
class Disks {
 public:
  Disks() = default;
  Disks(const Disks&) = delete;
  Disks& operator=(const Disks&) = delete;
  ~Disks() {
    for (int fd : fds_) ::close(fd);
  }

  // disk.img is the first disk, whole (MBR partition 1 is the root filesystem: /dev/vda1), with
  // everything before the root filesystem write-protected so that the boot set and its checksums
  // stay exactly as mkimage wrote them. An image without a root filesystem is attached read-only.
  void add_image(const std::string& path, const DiskImageHeader& h, bool snapshot) {
    devices::VirtioBlk::Options opt;
    opt.snapshot = snapshot;
    opt.read_only = h.rootfs_size == 0;
    opt.protected_bytes = h.rootfs_size ? h.rootfs_offset : 0;
    add(path, opt, "disk image");
  }
  void add_drive(const DriveOption& d, bool snapshot) {
    devices::VirtioBlk::Options opt;
    opt.read_only = d.read_only;
    opt.snapshot = snapshot;
    add(d.path, opt, "-drive");
  }
  std::vector<devices::VirtioBackend*> backends() const {
    std::vector<devices::VirtioBackend*> out;
    for (const auto& b : blks_) out.push_back(b.get());
    return out;
  }

 private:
  void add(const std::string& path, devices::VirtioBlk::Options opt, const char* what) {
    // Snapshot and read-only disks are never written, so they need only read access.
    bool writes = !opt.read_only && !opt.snapshot;
    int fd = ::open(path.c_str(), (writes ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    if (fd < 0) {
      int e = errno;
      fail(ExitCode::kBadDisk, "{}: cannot open {} as a {} disk: {}{}", path, what, writes ? "read-write" : "read-only",
           std::strerror(e), writes && (e == EACCES || e == EROFS) ? " (use -snapshot or readonly=on)" : "");
    }
    fds_.push_back(fd);
    opt.serial = "btvmm-" + std::to_string(blks_.size());
    blks_.push_back(std::make_unique<devices::VirtioBlk>(fd, opt));
    if (blks_.back()->capacity_sectors() == 0) fail(ExitCode::kBadDisk, "{}: empty {} (a disk needs at least one sector)", path, what);
  }
  std::vector<int> fds_;
  std::vector<std::unique_ptr<devices::VirtioBlk>> blks_;
};

// The boot set comes from --kernel/--initrd or from the image; the image is checked whenever one
// is given, since it is also the guest's first disk.
KernelInput gather_boot_set(const RunOptions& o, std::optional<DiskImageHeader>& image) {
  std::optional<ParsedImage> img;
  if (!o.disk.empty()) {
    img = read_disk_image(o.disk);
    image = img->header;
  }
  if (!o.kernel.empty()) {
    KernelInput in;
    in.kernel = read_file(o.kernel, ExitCode::kBadKernel, "kernel");
    for (const auto& spec : o.initrds) {
      // QEMU's multiboot convention: "path arguments" - the whole string is the module's name.
      std::string path = spec.substr(0, spec.find(' '));
      in.initrds.push_back({read_file(path, ExitCode::kBadKernel, "initrd"), spec});
    }
    in.cmdline = o.append;
    return in;
  }
  KernelInput in = kernel_input_from(img->boot);
  if (o.append_given) in.cmdline = o.append;
  return in;
}

// The executed-instruction profile (exec.*, tc.indirect_hits) exists only under the translator and
// costs translated code ~15% (EngineConfig::count_executions): only --stats pays for it.
bool collects_exec_profile(const RunOptions& o) { return o.accel == Accel::kBt && o.stats; }

std::unique_ptr<CpuBackend> make_backend(const RunOptions& o, mmu::GuestWindows* window, TcTrace* trace) {
  if (o.accel == Accel::kBt) {
    if (!window) fail(ExitCode::kInternal, "--accel bt: no guest window was reserved");
    if (o.direct) {
      const std::string why = direct_execution_unavailable_reason();
      if (!why.empty()) fail(ExitCode::kAccelUnavailable, "--accel bt,direct=on is not available on this host ({})", why);
    }
    return make_bt_backend(*window, BtOptions{!o.nochain, o.adaptive, trace, collects_exec_profile(o), o.direct});
  }
  if (o.log_in_asm || o.log_out_asm || o.log_tc || o.nochain || o.perf_map)
    fail(ExitCode::kUsage, "-d in_asm/out_asm/tc/nochain, --trace-tc and --perf-map describe the binary translator: use --accel bt");
  std::string why = kvm_unavailable_reason();
  if (!why.empty()) fail(ExitCode::kAccelUnavailable, "--accel kvm is not available on this host ({})", why);
  return make_kvm_backend();
}

// Counters only translated code itself increments (EngineConfig::count_executions): absent rather
// than zero when the run did not collect them.
bool collected_in_tc_only(const std::string& name) { return name.starts_with("exec.") || name == "tc.indirect_hits"; }

void write_metrics(const std::string& path, int status, bool exec_profile) {
  nlohmann::json j;
  j["exit_status"] = status;
  j["exec_profile"] = exec_profile;
  for (const auto& s : stats::snapshot())
    if (exec_profile || !collected_in_tc_only(s.name)) j["counters"][s.name] = s.value;
  std::ofstream out(path);
  out << j.dump(2) << "\n";
  if (!out) fail(ExitCode::kInternal, "{}: cannot write metrics", path);
}

// Stops the machine after --timeout seconds (so a hung guest cannot hang a test run).
class Watchdog {
 public:
  Watchdog(double seconds, Machine& m) {
    if (seconds <= 0) return;
    thread_ = std::thread([this, seconds, &m] {
      std::unique_lock<std::mutex> lock(mu_);
      if (!cv_.wait_for(lock, std::chrono::duration<double>(seconds), [this] { return done_; })) m.request_timeout();
    });
  }
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

}  // namespace

int run_command(const RunOptions& o, mmu::GuestWindows* window) {
  // Image and kernel are checked before anything else, so their errors come first and do not
  // depend on the accelerator being present.
  std::optional<DiskImageHeader> image;
  KernelInput input = gather_boot_set(o, image);
  Disks disks;
  if (image) disks.add_image(o.disk, *image, o.snapshot);
  for (const DriveOption& d : o.drives) disks.add_drive(d, o.snapshot);
  FdCharBackend console(1);
  auto first = std::make_unique<Machine>(o.memory_mib << 20, console, disks.backends());
  BootPlan plan = load_kernel(input, first->memory());
  std::unique_ptr<TcTrace> trace;
  if (o.log_in_asm || o.log_out_asm || o.log_tc || o.perf_map)
    trace = std::make_unique<TcTrace>(o.log_file, TraceItems{o.log_in_asm, o.log_out_asm, o.log_tc, o.perf_map});
  auto backend_factory = [&] { return make_backend(o, window, trace.get()); };
  auto backend = backend_factory();

  Terminal terminal;
  std::atomic<Machine*> current{nullptr};
  terminal.start_input(
      [&](uint8_t b) {
        if (Machine* m = current.load()) m->push_input(b);
      },
      [&] {
        if (Machine* m = current.load()) m->request_quit();
      });

  int status = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(o.timeout_s);
  for (std::unique_ptr<Machine> m = std::move(first);;) {
    c_boots.inc();
    current.store(m.get());
    double left = o.timeout_s > 0 ? std::chrono::duration<double>(deadline - std::chrono::steady_clock::now()).count() : 0;
    {
      Watchdog watchdog(o.timeout_s > 0 ? std::max(left, 0.001) : 0, *m);
      backend->run(*m, plan);
    }
    current.store(nullptr);
    StopReason why = m->stop_reason();
    if (why == StopReason::kGuestExit) {
      status = m->guest_exit_status();
      break;
    }
    if (why == StopReason::kQuit) break;
    if (why == StopReason::kTimeout) {
      restore_terminal();
      std::fprintf(stderr, "btvmm: guest still running after --timeout %g s; stopped\n", o.timeout_s);
      status = to_int(ExitCode::kGuestHung);
      break;
    }
    if (o.no_reboot) {
      restore_terminal();
      if (why == StopReason::kTripleFault) {
        std::fprintf(stderr, "btvmm: guest triple fault (shutdown)\n");
        status = to_int(ExitCode::kTripleFault);
      }
      break;
    }
    // Reboot: a fresh machine (memory zeroed, devices reset) with the same boot set.
    m.reset();
    m = std::make_unique<Machine>(o.memory_mib << 20, console, disks.backends());
    plan = load_kernel(input, m->memory());
    backend = backend_factory();
  }
  restore_terminal();
  translator::publish_derived_exec_counters();
  if (o.stats) std::fprintf(stderr, "btvmm statistics:\n%s", stats::format_table(false).c_str());
  if (o.stats && collects_exec_profile(o)) {
    // The kernel's symbols name its code; user programs are other ELF files, so CPL 3 stays unnamed.
    const GuestSymbols kernel_symbols = GuestSymbols::from_elf(input.kernel);
    translator::GuestCodeNamer namer;
    if (!kernel_symbols.empty())
      namer = [&](uint32_t eip, uint8_t cpl) { return cpl == 3 ? std::string() : kernel_symbols.name(eip); };
    std::fprintf(stderr, "%s", translator::format_hottest_translations(10, namer).c_str());
  }
  if (!o.metrics_file.empty()) write_metrics(o.metrics_file, status, collects_exec_profile(o));
  return status;
}

}  // namespace btvmm::host
