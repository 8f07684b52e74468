#include "devices/bus.h"

#include <stdexcept>

namespace btvmm::devices {

void PortBus::map(uint16_t first, uint16_t count, PortDevice* dev, std::string name) {
  if (count == 0 || uint32_t(first) + count > 0x10000) throw std::invalid_argument("PortBus::map: bad range for " + name);
  uint32_t last = uint32_t(first) + count - 1;
  for (auto& [f, r] : ranges_)
    if (!(last < f || first > r.last))
      throw std::invalid_argument("PortBus::map: " + name + " overlaps " + r.name);
  ranges_.emplace(first, Range{last, dev, std::move(name)});
}

const PortBus::Range* PortBus::find(uint16_t port) const {
  auto it = ranges_.upper_bound(port);
  if (it == ranges_.begin()) return nullptr;
  --it;
  return port <= it->second.last ? &it->second : nullptr;
}

uint32_t PortBus::read(uint16_t port, unsigned size) {
  if (const Range* r = find(port)) return r->dev->io_read(port, size);
  ++unclaimed_;
  return size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
}

void PortBus::write(uint16_t port, unsigned size, uint32_t value) {
  if (const Range* r = find(port)) return r->dev->io_write(port, size, value);
  ++unclaimed_;
}

std::string PortBus::owner(uint16_t port) const {
  const Range* r = find(port);
  return r ? r->name : std::string();
}

void MmioBus::map(uint64_t first, uint64_t length, MmioDevice* dev, std::string name) {
  if (length == 0 || first + length < first) throw std::invalid_argument("MmioBus::map: bad range for " + name);
  uint64_t last = first + length - 1;
  for (auto& [f, r] : ranges_)
    if (!(last < f || first > r.last))
      throw std::invalid_argument("MmioBus::map: " + name + " overlaps " + r.name);
  ranges_.emplace(first, Range{last, dev, std::move(name)});
}

const MmioBus::Range* MmioBus::find(uint64_t addr) const {
  auto it = ranges_.upper_bound(addr);
  if (it == ranges_.begin()) return nullptr;
  --it;
  return addr <= it->second.last ? &it->second : nullptr;
}

uint64_t MmioBus::read(uint64_t addr, unsigned size) {
  if (const Range* r = find(addr)) return r->dev->mmio_read(addr, size);
  return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

void MmioBus::write(uint64_t addr, unsigned size, uint64_t value) {
  if (const Range* r = find(addr)) r->dev->mmio_write(addr, size, value);
}

}  // namespace btvmm::devices
