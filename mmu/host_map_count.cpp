// Reads the host's VMA limit and this process's VMA count from /proc.
#include "mmu/host_map_count.h"

#include <algorithm>
#include <fstream>
#include <string>

#include "core/error.h"

namespace btvmm::mmu {

HostMapCount read_host_map_count() {
  HostMapCount c;
  std::ifstream limit("/proc/sys/vm/max_map_count");
  uint64_t v = 0;
  if (!(limit >> v)) fail(ExitCode::kInternal, "/proc/sys/vm/max_map_count: cannot read it");
  c.max_map_count = static_cast<uint32_t>(std::min<uint64_t>(v, UINT32_MAX));
  std::ifstream maps("/proc/self/maps");
  if (!maps) fail(ExitCode::kInternal, "/proc/self/maps: cannot open it");
  std::string line;
  while (std::getline(maps, line)) ++c.in_use;
  return c;
}

uint32_t shadow_vma_budget(const HostMapCount& count) {
  const uint32_t reserve = std::max<uint32_t>(4096, count.max_map_count / 8);
  const uint64_t taken = uint64_t(count.in_use) + reserve;
  return count.max_map_count > taken ? static_cast<uint32_t>(count.max_map_count - taken) : 0;
}

}  // namespace btvmm::mmu
