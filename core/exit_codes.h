// btvmm's process exit status, documented in README.md ("Exit status").
// The guest's isa-debug-exit writes produce odd values ((v << 1) | 1), as in QEMU, so every
// status btvmm chooses itself is even and cannot be mistaken for a guest verdict.
#pragma once

namespace btvmm {

enum class ExitCode : int {
  kOk = 0,                  // guest shut down or reset under -no-reboot; --help, --version
  kUsage = 2,               // bad command line
  kBadImage = 4,            // disk image missing, truncated or corrupt
  kBadKernel = 6,           // kernel or initrd rejected by the loader
  kTripleFault = 8,         // guest triple fault (shutdown) under -no-reboot
  kInternal = 10,           // host call failed, btvmm bug
  kAccelUnavailable = 12,   // requested accelerator is not available on this host/build
  kGuestHung = 14,          // --timeout expired
  kBadDisk = 16,            // a guest disk (-drive/--disk, or disk.img as a writable disk) cannot be opened
};

constexpr int to_int(ExitCode c) { return static_cast<int>(c); }

}  // namespace btvmm
