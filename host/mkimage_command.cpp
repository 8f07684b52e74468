#include "host/mkimage_command.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "core/error.h"
#include "host/disk_image.h"
#include "host/file_io.h"
#include "host/kernel_loader.h"
#include "host/linux_loader.h"

namespace btvmm::host {

namespace {

// A directory becomes an ext2 filesystem made by mke2fs -d (e2fsprogs), which needs no root
// and no loop device; a file is taken as a ready filesystem image.
std::vector<uint8_t> make_rootfs(const MkimageOptions& o) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(o.rootfs, ec)) return read_file(o.rootfs, ExitCode::kUsage, "root filesystem image");
  uint64_t bytes = 0;
  for (auto& e : fs::recursive_directory_iterator(o.rootfs, fs::directory_options::skip_permission_denied, ec))
    if (e.is_regular_file(ec)) bytes += e.file_size(ec);
  uint64_t mib = o.rootfs_mib ? o.rootfs_mib : bytes / (1 << 20) * 2 + 16;  // room for metadata and new files
  std::string tmp = o.output + ".rootfs.tmp";
  unlink(tmp.c_str());
  pid_t pid = fork();
  if (pid < 0) throw_errno("fork(mke2fs)");
  if (pid == 0) {
    std::string size = std::to_string(mib) + "M";
    execlp("mke2fs", "mke2fs", "-q", "-F", "-t", "ext2", "-d", o.rootfs.c_str(), tmp.c_str(), size.c_str(), nullptr);
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    unlink(tmp.c_str());
    fail(ExitCode::kUsage, "mkimage: mke2fs -d {} failed (status {}); is e2fsprogs installed?", o.rootfs, status);
  }
  auto out = read_file(tmp, ExitCode::kInternal, "temporary filesystem");
  unlink(tmp.c_str());
  return out;
}

}  // namespace

int mkimage_command(const MkimageOptions& o) {
  ImageContents c;
  c.boot.kernel = read_file(o.kernel, ExitCode::kBadKernel, "kernel");
  if (!is_linux_bzimage(c.boot.kernel) && !find_multiboot_header(c.boot.kernel))
    fail(ExitCode::kBadKernel, "{}: neither a Linux bzImage nor a multiboot kernel", o.kernel);
  if (!o.initrds.empty()) c.boot.initrd = read_file(o.initrds[0], ExitCode::kBadKernel, "initrd");
  c.boot.cmdline = o.append;
  if (!o.rootfs.empty()) c.rootfs = make_rootfs(o);
  auto image = build_disk_image(c);
  write_file_atomically(o.output, image);
  std::fprintf(stderr, "btvmm mkimage: wrote %s (%zu MiB: kernel %zu KiB, initrd %zu KiB, root filesystem %zu KiB)\n",
               o.output.c_str(), image.size() >> 20, c.boot.kernel.size() >> 10, c.boot.initrd.size() >> 10,
               c.rootfs.size() >> 10);
  return 0;
}

}  // namespace btvmm::host
