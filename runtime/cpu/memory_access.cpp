// Segmented guest memory access and stack operations (see memory_access.h). Every access goes
// through CpuEnv; a failed check returns the guest exception and leaves the caller's state alone.
#include "runtime/cpu/memory_access.h"

#include "runtime/cpu/descriptor.h"

namespace btvmm::runtime {
namespace {

GuestException segment_fault(SegReg which, uint16_t selector = 0) {
  return which == kSs ? fault_with_selector(kSsFault, selector) : gp(0);
}

}  // namespace

Fault linearize(const SegmentCache& seg, SegReg which, uint32_t offset, unsigned size, Access access,
                uint32_t* la) {
  // SDM vol. 3 5.4.1: a null (unusable) segment cannot be used for memory references.
  if (seg.unusable()) return segment_fault(which);
  // SDM vol. 3 5.4.1.1 (type checking): no writes to code or read-only data, no reads of
  // execute-only code (loads already refused the other combinations).
  if (access == Access::kWrite && (cache_is_code(seg) || !(seg.type() & 2))) return segment_fault(which);
  if (access == Access::kRead && cache_is_code(seg) && !(seg.type() & 2)) return segment_fault(which);
  const uint64_t last = uint64_t(offset) + size - 1;
  const bool expand_down = !cache_is_code(seg) && (seg.type() & 4);
  if (expand_down) {
    // SDM vol. 3 5.3: valid offsets of an expand-down segment are limit+1 .. 0xffff or 0xffffffff.
    const uint64_t upper = seg.db() ? 0xffffffffull : 0xffffull;
    if (offset <= seg.limit || last > upper) return segment_fault(which);
  } else if (last > seg.limit) {
    return segment_fault(which);
  }
  *la = seg.base + offset;
  return std::nullopt;
}

Fault read_data(const VcpuState& vcpu, CpuEnv& env, SegReg seg, uint32_t offset, void* dst, unsigned size) {
  uint32_t la = 0;
  if (auto f = linearize(vcpu.seg[seg], seg, offset, size, Access::kRead, &la)) return f;
  return env.read_linear(la, dst, size, vcpu.cpl == 3);
}

Fault write_data(const VcpuState& vcpu, CpuEnv& env, SegReg seg, uint32_t offset, const void* src, unsigned size) {
  uint32_t la = 0;
  if (auto f = linearize(vcpu.seg[seg], seg, offset, size, Access::kWrite, &la)) return f;
  return env.write_linear(la, src, size, vcpu.cpl == 3);
}

Fault read_system(CpuEnv& env, uint32_t la, void* dst, unsigned size) { return env.read_linear(la, dst, size, false); }

Fault write_system(CpuEnv& env, uint32_t la, const void* src, unsigned size) {
  return env.write_linear(la, src, size, false);
}

Fault push(CpuEnv& env, StackCursor& stack, uint32_t value, unsigned size, bool store16) {
  const uint32_t sp = stack.sp() - size;
  const uint32_t offset = stack.ss.db() ? sp : sp & 0xffff;
  uint32_t la = 0;
  if (linearize(stack.ss, kSs, offset, size, Access::kWrite, &la)) {
    return fault_with_selector(kSsFault, stack.fault_selector);
  }
  if (auto f = env.write_linear(la, &value, store16 ? 2 : size, stack.user)) return f;
  stack.set_sp(sp);
  return std::nullopt;
}

Fault peek(CpuEnv& env, const StackCursor& stack, uint32_t offset, uint32_t* value, unsigned size) {
  uint32_t at = stack.sp() + offset;
  if (!stack.ss.db()) at &= 0xffff;
  uint32_t la = 0;
  if (linearize(stack.ss, kSs, at, size, Access::kRead, &la)) {
    return fault_with_selector(kSsFault, stack.fault_selector);
  }
  *value = 0;
  return env.read_linear(la, value, size, stack.user);
}

Fault pop(CpuEnv& env, StackCursor& stack, uint32_t* value, unsigned size) {
  if (auto f = peek(env, stack, 0, value, size)) return f;
  stack.set_sp(stack.sp() + size);
  return std::nullopt;
}

}  // namespace btvmm::runtime
