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
  // -d items (QEMU's names where they mean the same) and -D / --trace-tc destination.
  bool log_in_asm = false;   // guest code of each new CCF
  bool log_out_asm = false;  // host code of each new CCF (Capstone)
  bool nochain = false;      // no direct-branch chaining
  bool adaptive = true;      // --accel bt,adaptive=off: trapping stores are never retranslated
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

}  // namespace btvmm::host
