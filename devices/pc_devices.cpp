// Wiring of the ISA PC (IBM PC/AT Technical Reference, "System I/O Address Map"; COM1 at
// 0x3f8/IRQ 4 as the BIOS data area lists it). Only builds and maps; device logic lives in
// each device's own file.
#include "devices/pc_devices.h"

namespace btvmm::devices {

namespace {
constexpr unsigned kCom1Irq = 4;
constexpr uint16_t kCom1Base = 0x3f8;
}  // namespace

PcDevices::PcDevices(PortBus& ports, MmioBus& mmio, const Clock& clock, MachineControl& machine,
                     CharBackend& console, uint64_t ram_bytes, RtcCmos::WallClock wall)
    : pit_(clock, pic_),
      port61_(pit_),
      rtc_(clock, pic_, std::move(wall)),
      i8042_(pic_, machine),
      com1_(kCom1Base, kCom1Irq, pic_, console),
      debug_exit_(machine),
      pci_(pic_) {
  rtc_.set_memory_size(ram_bytes);
  ports.map(0x20, 2, &pic_, "pic-master");
  ports.map(0xa0, 2, &pic_, "pic-slave");
  ports.map(0x4d0, 2, &pic_, "pic-elcr");
  ports.map(0x40, 4, &pit_, "pit");
  ports.map(0x61, 1, &port61_, "port61");
  ports.map(0x60, 1, &i8042_, "i8042-data");
  ports.map(0x64, 1, &i8042_, "i8042-cmd");
  ports.map(0x70, 2, &rtc_, "rtc");
  ports.map(Port80::kPort, 1, &port80_, "port80");
  ports.map(DebugExit::kPort, DebugExit::kSize, &debug_exit_, "isa-debug-exit");
  ports.map(kCom1Base, 8, &com1_, "com1");
  pci_.attach(ports, mmio);
  // PCI INTx is level-triggered and shared (PCI 3.0 2.2.6). A PC BIOS marks the PCI IRQs level in
  // the ELCR (Intel 82371 PIIX3 datasheet, ELCR2 at 0x4d1) and Linux without a $PIR table or ACPI
  // never changes it (arch/x86/pci/irq.c only touches the ELCR through a PIRQ router).
  const unsigned irq = pci_.irq();
  const uint16_t elcr_port = irq < 8 ? 0x4d0 : 0x4d1;
  pic_.io_write(elcr_port, 1, pic_.io_read(elcr_port, 1) | (1u << (irq & 7)));
  timed_ = {&pit_, &rtc_};
}

}  // namespace btvmm::devices
