// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! A 16550 UART, transmit only, whose transmitter empties at once: what the L2
//! console needs. Its interrupt is the transmit-holding-register-empty one (Linux's
//! 8250 driver transmits from it); the registers the driver probes keep what it
//! writes.

use std::io::Write;

/// Line status: transmitter holding register and shift register empty.
const LSR_IDLE: u8 = 0x60;
/// Interrupt identification: no interrupt pending, or THR empty.
const IIR_NONE: u8 = 0x01;
const IIR_THRE: u8 = 0x02;
/// Interrupt enable: THR empty.
const IER_THRI: u8 = 0x02;
/// Line control: DLAB, which maps the divisor latch over registers 0 and 1.
const LCR_DLAB: u8 = 0x80;

/// The UART's registers, and the console lines it has seen (the VMM reads the
/// guest's results from them).
#[derive(Default)]
pub struct Uart {
    ier: u8,
    lcr: u8,
    mcr: u8,
    scratch: u8,
    divisor: [u8; 2],
    /// A THR-empty interrupt waits (cleared by the IIR read that reports it).
    thre_pending: bool,
    line: Vec<u8>,
    lines: Vec<String>,
}

impl Uart {
    /// A byte-wide read of register `reg`.
    pub fn read(&mut self, reg: u64) -> u8 {
        let dlab = self.lcr & LCR_DLAB != 0;
        match reg {
            0 if dlab => self.divisor[0],
            1 if dlab => self.divisor[1],
            1 => self.ier,
            2 if self.interrupt() => {
                self.thre_pending = false;
                IIR_THRE
            }
            2 => IIR_NONE,
            3 => self.lcr,
            4 => self.mcr,
            5 => LSR_IDLE,
            7 => self.scratch,
            _ => 0,
        }
    }

    /// A byte-wide write of `value` to register `reg`: a byte on the console
    /// when it is the transmit register.
    pub fn write(&mut self, reg: u64, value: u8) {
        let dlab = self.lcr & LCR_DLAB != 0;
        match reg {
            0 if dlab => self.divisor[0] = value,
            1 if dlab => self.divisor[1] = value,
            0 => {
                self.transmit(value);
                self.thre_pending = true;
            }
            1 => {
                // Enabling the THR-empty interrupt with THR empty raises it.
                if value & IER_THRI != 0 && self.ier & IER_THRI == 0 {
                    self.thre_pending = true;
                }
                self.ier = value & 0x0f;
            }
            3 => self.lcr = value,
            4 => self.mcr = value,
            7 => self.scratch = value,
            _ => {}
        }
    }

    /// The interrupt line's level.
    pub fn interrupt(&self) -> bool {
        self.ier & IER_THRI != 0 && self.thre_pending
    }

    fn transmit(&mut self, byte: u8) {
        match byte {
            b'\n' => {
                let line = String::from_utf8_lossy(&self.line).into_owned();
                println!("L2| {line}");
                let _ = std::io::stdout().flush();
                self.lines.push(line);
                self.line.clear();
            }
            b'\r' => {}
            _ => self.line.push(byte),
        }
    }

    /// Every complete line the guest printed.
    pub fn lines(&self) -> &[String] {
        &self.lines
    }
}
