// The command line: `btvmm run ...`, `btvmm mkimage ...`, --help, --version. QEMU's spellings
// are accepted as aliases (CONVENTIONS.md): single-dash long options are rewritten before
// CLI11 parses them.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace btvmm::host {

enum class Accel { kBt, kKvm };

// One `-drive file=PATH,format=raw,if=virtio[,readonly=on]` (or `--disk PATH`): a raw file the
// guest sees as a virtio-blk disk after disk.img's own.
struct DriveOption {
  std::string path;
  bool read_only = false;
};

struct RunOptions {
  std::string disk;                  // disk.img (boot set + guest disk)
  std::string kernel;                // direct boot instead of the image's boot set
  std::vector<std::string> initrds;  // comma-separated on the command line
  std::string append;
  bool append_given = false;
  uint64_t memory_mib = 128;
  Accel accel = Accel::kBt;
  bool stats = false;
  std::string metrics_file;
  bool no_reboot = false;
  double timeout_s = 0;              // 0: none
  // -snapshot: guest disk writes stay in memory for this run (across guest reboots), files untouched.
  bool snapshot = false;
  std::vector<DriveOption> drives;
  // -d items (QEMU's names where they mean the same) and -D / --trace-tc destination.
  bool log_in_asm = false;   // guest code of each new CCF
  bool log_out_asm = false;  // host code of each new CCF (Capstone)
  bool log_tc = false;       // retranslations, invalidations, stale marking and re-checks, TC flushes
  bool nochain = false;      // no direct-branch chaining
  bool adaptive = true;      // --accel bt,adaptive=off: trapping stores are never retranslated
  bool direct = false;       // --accel bt,direct=on: guest user code runs directly, not from the TC
  bool perf_map = false;     // --perf-map: /tmp/perf-PID.map names each CCF by guest EIP
  std::string log_file;      // empty: stderr
};

struct MkimageOptions {
  std::string output;
  std::string kernel;
  std::vector<std::string> initrds;
  std::string append;
  std::string rootfs;  // a directory (made into ext2) or a raw filesystem image
  uint64_t rootfs_mib = 0;  // size for a directory-made filesystem; 0 = fit contents
};

struct InfoRequest {
  std::string text;  // --help / --version output
};

using Command = std::variant<RunOptions, MkimageOptions, InfoRequest>;

// Throws Error(kUsage) with CLI11's message for bad command lines.
Command parse_command_line(int argc, const char* const* argv);

// QEMU-style single-dash long options (-kernel, -append, -no-reboot...) to CLI11's two dashes.
std::vector<std::string> rewrite_qemu_aliases(const std::vector<std::string>& args);

// QEMU's -drive value: file=PATH (required), format=raw, if=virtio, readonly=on|off. Throws
// Error(kUsage) for anything else (QEMU-compatible spellings only, so a command line never
// means something different here than under QEMU).
DriveOption parse_drive(const std::string& spec);

}  // namespace btvmm::host
