// 8042-compatible keyboard controller (IBM PC/AT Technical Reference, "Keyboard Controller";
// command set as Linux's drivers/input/serio/i8042.h uses it). No PS/2 device is attached:
// bytes sent to the keyboard or mouse come back as 0xFE with the timeout status bit.
#include "devices/i8042.h"

#include "core/stats.h"

namespace btvmm::devices {

namespace {
stats::Counter c_commands{"io.i8042_commands", "commands written to the i8042 (port 0x64)"};
stats::Counter c_resets{"io.i8042_resets", "system resets requested through the i8042 (0xFE, 0xD1)"};

constexpr uint8_t kStatusObf = 0x01, kStatusSys = 0x04, kStatusCmd = 0x08, kStatusUnlocked = 0x10,
                  kStatusAuxObf = 0x20, kStatusTimeout = 0x40;
constexpr uint8_t kCtrKbdInt = 0x01, kCtrAuxInt = 0x02, kCtrSys = 0x04, kCtrKbdDis = 0x10, kCtrAuxDis = 0x20;
constexpr uint8_t kNoDevice = 0xfe;  // what the controller reports when a PS/2 device never clocks
}  // namespace

I8042::I8042(IrqSink& irqs, MachineControl& machine) : irqs_(irqs), machine_(machine) {}

uint8_t I8042::status() const {
  uint8_t s = kStatusUnlocked;
  if ((command_byte_ & kCtrSys) || self_tested_) s |= kStatusSys;
  if (last_was_command_) s |= kStatusCmd;
  if (!out_.empty()) {
    s |= kStatusObf;
    if (out_.front().aux) s |= kStatusAuxObf;
    if (out_.front().timeout) s |= kStatusTimeout;
  }
  return s;
}

void I8042::push(uint8_t value, bool aux, bool timeout) {
  out_.push_back({value, aux, timeout});
  update_irqs();
}

void I8042::update_irqs() {
  // The controller raises IRQ 1 (keyboard) or IRQ 12 (aux) while its output buffer holds a
  // byte from that side and the command byte enables that interrupt.
  bool kbd = !out_.empty() && !out_.front().aux && (command_byte_ & kCtrKbdInt);
  bool aux = !out_.empty() && out_.front().aux && (command_byte_ & kCtrAuxInt);
  if (kbd != kbd_irq_) irqs_.set_irq(kKeyboardIrq, kbd_irq_ = kbd);
  if (aux != aux_irq_) irqs_.set_irq(kAuxIrq, aux_irq_ = aux);
}

void I8042::command(uint8_t cmd) {
  c_commands.inc();
  pending_ = 0;
  if (cmd >= 0x20 && cmd <= 0x3f) {  // read controller RAM; byte 0 is the command byte
    push(cmd == 0x20 ? command_byte_ : 0);
    return;
  }
  if (cmd >= 0x60 && cmd <= 0x7f) {  // write controller RAM: the byte follows on port 0x60
    pending_ = cmd;
    return;
  }
  if (cmd >= 0xf0) {
    // Pulse output port lines whose bit is 0 in the low nibble; bit 0 is the CPU reset line.
    if (!(cmd & 0x01)) {
      c_resets.inc();
      machine_.request_reset();
    }
    return;
  }
  switch (cmd) {
    case 0xa7: command_byte_ |= kCtrAuxDis; break;
    case 0xa8: command_byte_ &= uint8_t(~kCtrAuxDis); break;
    case 0xa9: push(0x00); break;  // aux interface test: lines OK
    case 0xaa:                     // controller self-test
      self_tested_ = true;
      push(0x55);
      break;
    case 0xab: push(0x00); break;  // keyboard interface test: lines OK
    case 0xad: command_byte_ |= kCtrKbdDis; break;
    case 0xae: command_byte_ &= uint8_t(~kCtrKbdDis); break;
    case 0xc0: push(0x80); break;  // input port: keyboard not inhibited
    case 0xd0: push(output_port_); break;
    case 0xd1: case 0xd2: case 0xd3: case 0xd4: pending_ = cmd; break;
    case 0xdd: output_port_ &= uint8_t(~0x02); break;  // A20 off (HP Vectra extension)
    case 0xdf: output_port_ |= 0x02; break;            // A20 on
    default: break;                                     // unknown commands are ignored
  }
  update_irqs();
}

void I8042::data(uint8_t value) {
  uint8_t cmd = pending_;
  pending_ = 0;
  switch (cmd) {
    case 0:  // a byte for the keyboard, which is not there
      push(kNoDevice, false, true);
      return;
    case 0x60:
      command_byte_ = value;
      update_irqs();
      return;
    case 0xd1:
      output_port_ = value;
      if (!(value & 0x01)) {
        c_resets.inc();
        machine_.request_reset();
      }
      return;
    case 0xd2: push(value, false); return;  // as if the keyboard had sent it
    case 0xd3: push(value, true); return;   // as if the mouse had sent it (Linux's AUX loop test)
    case 0xd4: push(kNoDevice, true, true); return;  // a byte for the mouse, which is not there
    default: return;                                 // other controller RAM bytes are not kept
  }
}

uint32_t I8042::io_read(uint16_t port, unsigned) {
  if (port == 0x64) return status();
  if (out_.empty()) return 0;
  uint8_t v = out_.front().value;
  out_.pop_front();
  // Reading empties the one-byte output buffer, so the interrupt line drops before the next
  // queued byte (if any) raises it again: each byte is a fresh edge at the PIC.
  if (kbd_irq_) irqs_.set_irq(kKeyboardIrq, kbd_irq_ = false);
  if (aux_irq_) irqs_.set_irq(kAuxIrq, aux_irq_ = false);
  update_irqs();
  return v;
}

void I8042::io_write(uint16_t port, unsigned, uint32_t value) {
  last_was_command_ = port == 0x64;
  if (port == 0x64) command(uint8_t(value));
  else data(uint8_t(value));
}

}  // namespace btvmm::devices
