#include "host/options.h"

#include <CLI/CLI.hpp>

#include <algorithm>

#include "core/error.h"
#include "host/direct_user_runner.h"
#include "host/kvm_backend.h"

namespace btvmm::host {

namespace {

const char* const kQemuLongOptions[] = {"kernel", "initrd", "append", "no-reboot", "accel", "stats", "metrics",
                                         "memory", "timeout", "trace-tc", "perf-map", "snapshot", "drive", "disk", "version", "help"};

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    if (comma == std::string::npos) comma = s.size();
    if (comma > start) out.push_back(s.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

uint64_t parse_memory(const std::string& s) {
  // -m 256 (MiB), -m 1G, -m 512M: QEMU's forms.
  if (s.empty()) fail(ExitCode::kUsage, "-m: empty size");
  size_t used = 0;
  unsigned long long v = 0;
  try {
    v = std::stoull(s, &used);
  } catch (const std::exception&) {
    fail(ExitCode::kUsage, "-m {}: not a size (examples: 128, 512M, 1G)", s);
  }
  std::string suffix = s.substr(used);
  if (suffix == "G" || suffix == "g") v *= 1024;
  else if (!(suffix.empty() || suffix == "M" || suffix == "m")) fail(ExitCode::kUsage, "-m {}: unknown unit '{}'", s, suffix);
  // The guest window is 4 GiB and RAM sits below the 3 GiB PCI/MMIO hole of a PC.
  if (v < 4 || v > 3072) fail(ExitCode::kUsage, "-m {}: guest memory must be between 4 MiB and 3 GiB", s);
  return v;
}

const char* kLogItemsHelp =
    "Log items for -d (comma separated; -D FILE sends them to a file), binary translator only:\n"
    "  in_asm   guest code of each new translation (CCF): address, bytes, instruction, translation kind\n"
    "  out_asm  host code of each new CCF, disassembled by Capstone, grouped by guest instruction\n"
    "  tc       translation-cache events: retranslations, invalidations by code writes, CCFs cut by\n"
    "           INVLPG/CR0/CR3/CR4 and their re-check, whole-TC flushes with the reason\n"
    "  nochain  do not chain direct branches between CCFs (every transfer goes through the dispatcher)\n";

const char* kVersionText = "btvmm " "0.1.0" " (hosted VMM for 32-bit x86 guests, binary translation)\n";

}  // namespace

DriveOption parse_drive(const std::string& spec) {
  DriveOption d;
  bool have_file = false;
  // QEMU's -drive is a comma-separated key=value list; a comma inside a value is written ",,".
  std::vector<std::string> items(1);
  for (size_t i = 0; i < spec.size(); ++i) {
    if (spec[i] == ',' && i + 1 < spec.size() && spec[i + 1] == ',') {
      items.back() += ',';
      ++i;
    } else if (spec[i] == ',') {
      items.emplace_back();
    } else {
      items.back() += spec[i];
    }
  }
  for (const auto& item : items) {
    size_t eq = item.find('=');
    if (eq == std::string::npos) fail(ExitCode::kUsage, "-drive {}: '{}' is not key=value", spec, item);
    std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    if (key == "file") {
      if (value.empty()) fail(ExitCode::kUsage, "-drive {}: empty file name", spec);
      d.path = value;
      have_file = true;
    } else if (key == "format") {
      if (value != "raw") fail(ExitCode::kUsage, "-drive {}: format={} is not supported (raw only)", spec, value);
    } else if (key == "if") {
      if (value != "virtio") fail(ExitCode::kUsage, "-drive {}: if={} is not supported (virtio only)", spec, value);
    } else if (key == "readonly") {
      if (value == "on") d.read_only = true;
      else if (value == "off") d.read_only = false;
      else fail(ExitCode::kUsage, "-drive {}: readonly={} (on or off)", spec, value);
    } else {
      fail(ExitCode::kUsage, "-drive {}: unknown key '{}' (file, format, if, readonly)", spec, key);
    }
  }
  if (!have_file) fail(ExitCode::kUsage, "-drive {}: no file= given", spec);
  return d;
}

std::vector<std::string> rewrite_qemu_aliases(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  for (const auto& a : args) {
    if (a.size() > 2 && a[0] == '-' && a[1] != '-') {
      std::string name = a.substr(1);
      std::string key = name.substr(0, name.find('='));
      if (std::find(std::begin(kQemuLongOptions), std::end(kQemuLongOptions), key) != std::end(kQemuLongOptions)) {
        out.push_back("-" + a);
        continue;
      }
    }
    out.push_back(a);
  }
  return out;
}

// QEMU's `-accel help`, plus whether each one can run here (scripts and the benchmark harness
// ask this rather than guess from /dev/kvm: kvm_probe.h).
namespace {
std::string accelerators_help() {
  const auto status = [](const std::string& why) { return why.empty() ? "available" : "not available: " + why; };
  return fmt::format(
      "Accelerators:\nbt   binary translation (available)\nkvm  Linux KVM ({})\n"
      "bt,direct=on  binary translation of kernel code, guest user code run directly ({})\n",
      status(kvm_unavailable_reason()), status(direct_execution_unavailable_reason()));
}
}  // namespace

Command parse_command_line(int argc, const char* const* argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  args = rewrite_qemu_aliases(args);

  CLI::App app{"btvmm: a hosted virtual machine monitor for 32-bit x86 guests (binary translation)", "btvmm"};
  app.require_subcommand(0, 1);
  bool version = false;
  app.add_flag("-V,--version", version, "Print the version and exit");

  RunOptions run;
  std::string memory = "128", accel = "bt", initrd_list;
  CLI::App* run_cmd = app.add_subcommand("run", "Boot a guest from disk.img (or --kernel) and run it");
  run_cmd->add_option("disk", run.disk, "Disk image made by 'btvmm mkimage' (boot set + guest disk)");
  run_cmd->add_option("--kernel", run.kernel, "Boot this kernel directly (multiboot ELF or Linux bzImage)");
  run_cmd->add_option("--initrd", initrd_list, "Initrd (Linux) or comma-separated modules (multiboot)");
  run_cmd->add_option("--append", run.append, "Kernel command line (overrides the image's)");
  run_cmd->add_option("-m,--memory", memory, "Guest RAM in MiB (or with M/G suffix)")->capture_default_str();
  run_cmd->add_option("--accel", accel, "CPU backend: bt (binary translation) or kvm; bt,adaptive=off turns off adaptive retranslation, bt,direct=on runs guest user code directly; help lists them and whether each runs here")->capture_default_str();
  run_cmd->add_flag("--stats", run.stats, "Print every counter at exit (traps, exits, translations)");
  run_cmd->add_option("--metrics", run.metrics_file, "Write the counters as JSON to this file at exit");
  run_cmd->add_flag("--no-reboot", run.no_reboot, "Exit instead of rebooting on guest reset or triple fault");
  run_cmd->add_option("--timeout", run.timeout_s, "Stop the guest after this many seconds (exit status 14)");
  std::vector<std::string> drive_specs, disk_paths;
  run_cmd->add_flag("--snapshot", run.snapshot, "Keep guest disk writes in memory for this run; files stay untouched");
  run_cmd->add_option("--drive", drive_specs, "Attach a virtio-blk disk: file=PATH[,format=raw][,if=virtio][,readonly=on]");
  run_cmd->add_option("--disk", disk_paths, "Attach a raw file as a virtio-blk disk (same as -drive file=PATH)");
  std::string log_items, trace_tc;
  run_cmd->add_option("-d", log_items, "Log items, comma separated ('-d help' lists them)");
  run_cmd->add_option("-D", run.log_file, "Write -d logs to this file instead of stderr");
  run_cmd->add_option("--trace-tc", trace_tc, "Translation-cache trace dump to FILE (same as -d in_asm,out_asm,tc -D FILE)");
  run_cmd->add_flag("--perf-map", run.perf_map, "Write /tmp/perf-PID.map (one line per CCF, named by guest EIP) for perf");

  MkimageOptions mk;
  std::string mk_initrds;
  CLI::App* mk_cmd = app.add_subcommand("mkimage", "Make a disk.img from a kernel, initrd, command line and root filesystem");
  mk_cmd->add_option("-o,--output", mk.output, "Image to write")->required();
  mk_cmd->add_option("--kernel", mk.kernel, "Kernel (multiboot ELF or Linux bzImage)")->required()->check(CLI::ExistingFile);
  mk_cmd->add_option("--initrd", mk_initrds, "Initrd (one file)");
  mk_cmd->add_option("--append", mk.append, "Kernel command line stored in the image");
  mk_cmd->add_option("--rootfs", mk.rootfs, "Root filesystem: a directory (made into ext2) or a filesystem image");
  mk_cmd->add_option("--rootfs-size", mk.rootfs_mib, "Size in MiB of a filesystem made from a directory");

  try {
    std::vector<std::string> reversed(args.rbegin(), args.rend());
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    return InfoRequest{app.help()};
  } catch (const CLI::CallForAllHelp&) {
    return InfoRequest{app.help("", CLI::AppFormatMode::All)};
  } catch (const CLI::ParseError& e) {
    fail(ExitCode::kUsage, "{} (try 'btvmm --help')", e.what());
  }
  if (version) return InfoRequest{kVersionText};

  if (run_cmd->parsed()) {
    run.memory_mib = parse_memory(memory);
    // QEMU's form: the accelerator's name, then comma-separated properties (-accel tcg,thread=single).
    const std::vector<std::string> accel_parts = split_commas(accel);
    const std::string accel_name = accel_parts.empty() ? "" : accel_parts[0];
    if (accel_name == "help") return InfoRequest{accelerators_help()};
    if (accel_name == "bt") run.accel = Accel::kBt;
    else if (accel_name == "kvm") run.accel = Accel::kKvm;
    else fail(ExitCode::kUsage, "--accel {}: unknown accelerator (bt or kvm)", accel);
    for (size_t i = 1; i < accel_parts.size(); ++i) {
      const std::string& prop = accel_parts[i];
      if (run.accel == Accel::kBt && (prop == "adaptive=on" || prop == "adaptive=off")) run.adaptive = prop == "adaptive=on";
      else if (run.accel == Accel::kBt && (prop == "direct=on" || prop == "direct=off")) run.direct = prop == "direct=on";
      else fail(ExitCode::kUsage, "--accel {}: unknown property '{}' (bt takes adaptive=on|off, direct=on|off)", accel, prop);
    }
    run.initrds = split_commas(initrd_list);
    run.append_given = run_cmd->count("--append") > 0;
    if (run.timeout_s < 0) fail(ExitCode::kUsage, "--timeout must not be negative");
    for (const auto& item : split_commas(log_items)) {
      if (item == "help") return InfoRequest{kLogItemsHelp};
      if (item == "in_asm") run.log_in_asm = true;
      else if (item == "out_asm") run.log_out_asm = true;
      else if (item == "tc") run.log_tc = true;
      else if (item == "nochain") run.nochain = true;
      else fail(ExitCode::kUsage, "-d {}: unknown log item ('-d help' lists them)", item);
    }
    if (!trace_tc.empty()) {
      run.log_in_asm = run.log_out_asm = run.log_tc = true;
      run.log_file = trace_tc;
    }
    for (const auto& spec : drive_specs) run.drives.push_back(parse_drive(spec));
    for (const auto& path : disk_paths) run.drives.push_back(DriveOption{path, false});
    if (run.disk.empty() && run.kernel.empty()) fail(ExitCode::kUsage, "run: give a disk image or --kernel (try 'btvmm run --help')");

    return run;
  }
  if (mk_cmd->parsed()) {
    mk.initrds = split_commas(mk_initrds);
    if (mk.initrds.size() > 1) fail(ExitCode::kUsage, "mkimage: one --initrd at most");
    return mk;
  }
  return InfoRequest{app.help()};
}

}  // namespace btvmm::host
