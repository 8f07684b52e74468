// What a loader hands to a CPU backend: the guest's memory is already filled; this says how the
// vCPU starts (32-bit protected mode, as multiboot v1 and the Linux 32-bit boot protocol both
// specify) and what the guest's physical memory map looks like.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace btvmm::host {

// A segment register's hidden part as the loader wants it (Intel SDM vol. 3 3.4.5).
struct SegmentInit {
  uint16_t selector = 0;
  uint32_t base = 0;
  uint32_t limit = 0xffffffff;  // byte granular limit as the CPU sees it (after G scaling)
  uint8_t type = 0x3;           // data read/write accessed; code is 0xb (execute/read accessed)
  bool code_or_data = true;     // S bit
  uint8_t dpl = 0;
  bool present = true;
  bool db = true;               // 32-bit
  bool granularity = true;      // 4 KiB limit granularity
};

struct BootCpuState {
  uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0, esi = 0, edi = 0, ebp = 0, esp = 0;
  uint32_t eip = 0;
  uint32_t eflags = 0x2;  // bit 1 is always set; IF clear (both protocols)
  uint32_t cr0 = 0x11;    // PE | ET: protected mode, paging off
  SegmentInit cs{}, ds{}, es{}, fs{}, gs{}, ss{};
  uint32_t gdt_base = 0, gdt_limit = 0;
  uint32_t idt_base = 0, idt_limit = 0;
};

// One e820 / multiboot memory-map entry.
struct MemoryRegion {
  uint64_t base;
  uint64_t length;
  enum Type : uint32_t { kUsable = 1, kReserved = 2 } type;
};

struct BootPlan {
  enum class Kind { kMultiboot, kLinux } kind;
  BootCpuState cpu;
  std::vector<MemoryRegion> memory_map;
  std::string description;  // for logs: "multiboot ELF, entry 0x100000, 2 modules"
};

}  // namespace btvmm::host
