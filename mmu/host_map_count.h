// What the host allows this process in VMAs (vm.max_map_count counts the whole process), and the
// part of it the shadow mappings may take. Reads /proc; never changes a host setting.
#pragma once

#include <cstdint>

namespace btvmm::mmu {

struct HostMapCount {
  uint32_t max_map_count = 0;  // /proc/sys/vm/max_map_count
  uint32_t in_use = 0;         // lines of /proc/self/maps now
};

HostMapCount read_host_map_count();
// What the shadows of this process may hold together: the VMAs left, less a reserve for the rest
// of btvmm (heap arenas, threads, the translation cache, libraries loaded later), an eighth of the
// limit and never under 4096. 0 when nothing is left.
uint32_t shadow_vma_budget(const HostMapCount& count);

}  // namespace btvmm::mmu
