// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The register file of one vSMMU (IHI 0070 chapter 6): [`Registers`], its
//! configuration, offsets and field types.

mod access;
mod config;
mod fields;
mod glue;
mod map;
pub mod offset;

use crate::vsmmu::MsiWrite;
pub use access::{AccessError, Effect, IgnoreReason, Ignored, Width, WriteOutcome};
pub use config::{ConfigError, MAX_QUEUE_LOG2SIZE, VsmmuConfig};
pub use fields::{Cr0, GlobalErrors, IrqCtrl};

use crate::arch::smmuv3::{IdRegisters, SmmuCaps};
use fields::{
    CMDQ_CONS_ERR_MASK, CR1_MASK, CR2_MASK, EVENTQ_OVERFLOW, GBPA_ABORT, GBPA_FIELDS, GBPA_RESET,
    GBPA_UPDATE, MSI_ADDRESS_MASK, MSI_ATTRIBUTES_MASK, QUEUE_BASE_MASK, STRTAB_BASE_CFG_FMT_2LVL,
    STRTAB_BASE_CFG_MASK, STRTAB_BASE_MASK,
};
use map::{Reg32, Reg64, Slot};

/// Bytes per command queue entry.
const CMDQ_ENTRY: u8 = 16;
/// Bytes per event queue entry.
const EVENTQ_ENTRY: u8 = 32;

/// One MSI's three configuration registers, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct MsiRegisters {
    cfg0: u64,
    cfg1: u32,
    cfg2: u32,
}

impl MsiRegisters {
    fn msi(&self) -> Option<MsiWrite> {
        (self.cfg0 != 0).then_some(MsiWrite {
            address: self.cfg0,
            data: self.cfg1,
            memory_attributes: (self.cfg2 & 0xf) as u8,
            shareability: ((self.cfg2 >> 4) & 0b11) as u8,
        })
    }
}

/// The register file of one vSMMU (IHI 0070 chapter 6): page 0 and page 1 as the
/// guest reads and writes them, with the rules the registers enforce themselves,
/// and the side effects the vSMMU glue must act on.
///
/// The split: [`read`](Self::read) and [`write`](Self::write) are the MMIO entry
/// points and apply the access rules (widths, read-only and reserved bits, writes
/// ignored while a queue is enabled, GBPA's Update). A write the vSMMU must act on
/// comes back as an [`Effect`]; the glue then acts (walks the command queue,
/// enables translation, ...) and reports back through the setters
/// ([`set_cr0ack`](Self::set_cr0ack),
/// [`set_cmdq_cons`](Self::set_cmdq_cons),
/// [`raise_global_errors`](Self::raise_global_errors), ...). The setters take
/// raw values and apply no policy; only they change CR0ACK, IRQ_CTRLACK, GERROR,
/// CMDQ_CONS while the queue is enabled, and EVENTQ_PROD.
///
/// Choices where the spec leaves one (CONSTRAINED UNPREDICTABLE), made once here:
/// - 8- and 16-bit, unaligned, and 64-bit accesses to 32-bit registers are
///   refused ([`AccessError`]): RAZ/WI.
/// - Base and configuration registers (CR1, CR2, STRTAB_BASE, STRTAB_BASE_CFG,
///   CMDQ_BASE, CMDQ_CONS, EVENTQ_BASE, EVENTQ_PROD) ignore writes while what
///   they configure is enabled in CR0 or CR0ACK ([`IgnoreReason::Enabled`]).
/// - The MSI configuration registers take writes at any time; the glue reads
///   them when it sends an MSI.
/// - EVENTQ_PROD and EVENTQ_CONS are at their page-1 offsets and aliased at
///   0xA8/0xAC on page 0; the rest of page 1 is reserved.
/// - Reserved offsets, and the registers of what is not advertised (PRIQ, AGBPA,
///   the MSI registers without MSIs), read as zero and ignore writes
///   ([`IgnoreReason::Reserved`]); [`offset`] lists what is where.
/// - GERRORN takes any value of the implemented error bits (toggling an inactive
///   error is the guest's bug; [`active_global_errors`] says what is active).
///
/// [`active_global_errors`]: Self::active_global_errors
///
/// ```
/// # use iommufd::arch::smmuv3::SmmuCaps;
/// # use iommufd::uapi::{HwCapabilities, IommuHwInfoArmSmmuv3};
/// use iommufd::vsmmu::{offset, Cr0, Effect, Registers, VsmmuConfig, Width, WriteOutcome};
/// # let info = IommuHwInfoArmSmmuv3 { idr: [0x0d44_101b, 0x0273_0010, 0, 0x1414, 0, 0x74], aidr: 1, ..Default::default() };
/// # let host = SmmuCaps::decode(&info, HwCapabilities::empty());
/// let mut regs = Registers::new(&host, VsmmuConfig::for_host(&host))?;
/// // The guest enables its command queue ...
/// let done = regs.write(offset::CR0, Width::U32, u64::from(Cr0::CMDQEN.bits()))?;
/// let WriteOutcome::Effect(Effect::Cr0 { new, .. }) = done else { unreachable!() };
/// // ... the glue enables it and acknowledges; the guest's poll sees it.
/// regs.set_cr0ack(new);
/// assert_eq!(regs.read(offset::CR0ACK, Width::U32)?, u64::from(Cr0::CMDQEN.bits()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registers {
    config: VsmmuConfig,
    id: IdRegisters,
    cr0: Cr0,
    cr0ack: Cr0,
    cr1: u32,
    cr2: u32,
    gbpa: u32,
    irq_ctrl: IrqCtrl,
    irq_ctrlack: IrqCtrl,
    gerror: GlobalErrors,
    gerrorn: GlobalErrors,
    gerror_irq: MsiRegisters,
    strtab_base: u64,
    strtab_base_cfg: u32,
    cmdq_base: u64,
    cmdq_prod: u32,
    cmdq_cons: u32,
    eventq_base: u64,
    eventq_prod: u32,
    eventq_cons: u32,
    eventq_irq: MsiRegisters,
}

impl Registers {
    /// The register file at reset for `config`, once
    /// [`VsmmuConfig::check`] against the physical SMMU `host` passes.
    pub fn new(host: &SmmuCaps, config: VsmmuConfig) -> Result<Self, ConfigError> {
        config.check(host)?;
        Ok(Self::at_reset(config))
    }

    fn at_reset(config: VsmmuConfig) -> Self {
        let gbpa = GBPA_RESET | if config.abort_at_reset { GBPA_ABORT } else { 0 };
        Self {
            id: config.id_registers(),
            config,
            cr0: Cr0::empty(),
            cr0ack: Cr0::empty(),
            cr1: 0,
            cr2: 0,
            gbpa,
            irq_ctrl: IrqCtrl::empty(),
            irq_ctrlack: IrqCtrl::empty(),
            gerror: GlobalErrors::empty(),
            gerrorn: GlobalErrors::empty(),
            gerror_irq: MsiRegisters::default(),
            strtab_base: 0,
            strtab_base_cfg: 0,
            cmdq_base: 0,
            cmdq_prod: 0,
            cmdq_cons: 0,
            eventq_base: 0,
            eventq_prod: 0,
            eventq_cons: 0,
            eventq_irq: MsiRegisters::default(),
        }
    }

    /// Back to the reset values (a VM reset): everything disabled, GBPA as
    /// configured, every other register 0.
    pub fn reset(&mut self) {
        *self = Self::at_reset(self.config);
    }

    /// What this vSMMU presents.
    pub fn config(&self) -> &VsmmuConfig {
        &self.config
    }

    /// Its identification registers.
    pub fn id_registers(&self) -> &IdRegisters {
        &self.id
    }

    /// A guest read of `width` at `offset` from the frame's base. Reserved
    /// offsets and bits read as zero; a refused access is an [`AccessError`]
    /// (complete the read with 0).
    pub fn read(&self, offset: u64, width: Width) -> Result<u64, AccessError> {
        check(offset, width)?;
        let msi = self.config.caps.msi;
        match width {
            Width::U64 => match (map::slot(offset, msi), map::slot(offset + 4, msi)) {
                (Slot::Low(r), _) => Ok(self.read64(r)),
                (Slot::Reserved, Slot::Reserved) => Ok(0),
                _ => Err(AccessError::SpansRegisters { offset }),
            },
            _ => Ok(match map::slot(offset, msi) {
                Slot::Word(r) => u64::from(self.read32(r)),
                Slot::Low(r) => self.read64(r) & 0xffff_ffff,
                Slot::High(r) => self.read64(r) >> 32,
                Slot::Reserved => 0,
            }),
        }
    }

    /// A guest write of `width` at `offset`: stored (or ignored) under the rules
    /// of the [type docs](Self), and what the glue must do about it. A 32-bit
    /// write uses the low 32 bits of `value`. A refused access changes nothing.
    pub fn write(
        &mut self,
        offset: u64,
        width: Width,
        value: u64,
    ) -> Result<WriteOutcome, AccessError> {
        check(offset, width)?;
        let msi = self.config.caps.msi;
        let low = value & 0xffff_ffff;
        Ok(match width {
            Width::U64 => match (map::slot(offset, msi), map::slot(offset + 4, msi)) {
                (Slot::Low(r), _) => self.write64(r, offset, value),
                (Slot::Reserved, Slot::Reserved) => reserved(offset),
                _ => return Err(AccessError::SpansRegisters { offset }),
            },
            _ => match map::slot(offset, msi) {
                Slot::Word(r) => self.write32(r, offset, low as u32),
                Slot::Low(r) => {
                    let merged = self.read64(r) & !0xffff_ffff | low;
                    self.write64(r, offset, merged)
                }
                Slot::High(r) => {
                    let merged = self.read64(r) & 0xffff_ffff | low << 32;
                    self.write64(r, offset, merged)
                }
                Slot::Reserved => reserved(offset),
            },
        })
    }

    fn read32(&self, r: Reg32) -> u32 {
        match r {
            Reg32::Idr(n) => self.id.idr[n],
            Reg32::Iidr => self.id.iidr,
            Reg32::Aidr => self.id.aidr,
            Reg32::Cr0 => self.cr0.bits(),
            Reg32::Cr0Ack => self.cr0ack.bits(),
            Reg32::Cr1 => self.cr1,
            Reg32::Cr2 => self.cr2,
            Reg32::Statusr => 0,
            Reg32::Gbpa => self.gbpa,
            Reg32::IrqCtrl => self.irq_ctrl.bits(),
            Reg32::IrqCtrlAck => self.irq_ctrlack.bits(),
            Reg32::Gerror => self.gerror.bits(),
            Reg32::Gerrorn => self.gerrorn.bits(),
            Reg32::GerrorIrqCfg1 => self.gerror_irq.cfg1,
            Reg32::GerrorIrqCfg2 => self.gerror_irq.cfg2,
            Reg32::StrtabBaseCfg => self.strtab_base_cfg,
            Reg32::CmdqProd => self.cmdq_prod,
            Reg32::CmdqCons => self.cmdq_cons,
            Reg32::EventqProd => self.eventq_prod,
            Reg32::EventqCons => self.eventq_cons,
            Reg32::EventqIrqCfg1 => self.eventq_irq.cfg1,
            Reg32::EventqIrqCfg2 => self.eventq_irq.cfg2,
        }
    }

    fn read64(&self, r: Reg64) -> u64 {
        match r {
            Reg64::GerrorIrqCfg0 => self.gerror_irq.cfg0,
            Reg64::StrtabBase => self.strtab_base,
            Reg64::CmdqBase => self.cmdq_base,
            Reg64::EventqBase => self.eventq_base,
            Reg64::EventqIrqCfg0 => self.eventq_irq.cfg0,
        }
    }

    /// Whether any of `what` is on in CR0 or not yet off in CR0ACK.
    fn enabled(&self, what: Cr0) -> bool {
        (self.cr0 | self.cr0ack).intersects(what)
    }

    fn write32(&mut self, r: Reg32, offset: u64, value: u32) -> WriteOutcome {
        let ignored = |reason| {
            WriteOutcome::Ignored(Ignored {
                offset,
                register: r.name(),
                reason,
            })
        };
        let queues = Cr0::SMMUEN | Cr0::CMDQEN | Cr0::EVENTQEN | Cr0::PRIQEN;
        match r {
            Reg32::Idr(_)
            | Reg32::Iidr
            | Reg32::Aidr
            | Reg32::Cr0Ack
            | Reg32::Statusr
            | Reg32::IrqCtrlAck
            | Reg32::Gerror => ignored(IgnoreReason::ReadOnly),
            Reg32::Cr0 => {
                let old = self.cr0;
                self.cr0 = Cr0::from_bits_truncate(value) & self.cr0_writable();
                WriteOutcome::Effect(Effect::Cr0 { old, new: self.cr0 })
            }
            Reg32::Cr1 if self.enabled(queues) => ignored(IgnoreReason::Enabled),
            Reg32::Cr1 => self.store(|s| s.cr1 = value & CR1_MASK),
            Reg32::Cr2 if self.enabled(Cr0::SMMUEN) => ignored(IgnoreReason::Enabled),
            Reg32::Cr2 => self.store(|s| s.cr2 = value & CR2_MASK),
            Reg32::Gbpa if value & GBPA_UPDATE == 0 => ignored(IgnoreReason::NoUpdate),
            Reg32::Gbpa => {
                let old = self.gbpa;
                self.gbpa = value & GBPA_FIELDS;
                WriteOutcome::Effect(Effect::Gbpa {
                    old,
                    new: self.gbpa,
                })
            }
            Reg32::IrqCtrl => {
                let old = self.irq_ctrl;
                self.irq_ctrl = IrqCtrl::from_bits_truncate(value) & self.irq_ctrl_writable();
                WriteOutcome::Effect(Effect::IrqCtrl {
                    old,
                    new: self.irq_ctrl,
                })
            }
            Reg32::Gerrorn => {
                let old = self.gerrorn;
                self.gerrorn = GlobalErrors::from_bits_truncate(value) & self.errors_implemented();
                WriteOutcome::Effect(Effect::Gerrorn {
                    old,
                    new: self.gerrorn,
                })
            }
            Reg32::GerrorIrqCfg1 => self.store(|s| s.gerror_irq.cfg1 = value),
            Reg32::GerrorIrqCfg2 => self.store(|s| s.gerror_irq.cfg2 = value & MSI_ATTRIBUTES_MASK),
            Reg32::EventqIrqCfg1 => self.store(|s| s.eventq_irq.cfg1 = value),
            Reg32::EventqIrqCfg2 => self.store(|s| s.eventq_irq.cfg2 = value & MSI_ATTRIBUTES_MASK),
            Reg32::StrtabBaseCfg if self.enabled(Cr0::SMMUEN) => ignored(IgnoreReason::Enabled),
            Reg32::StrtabBaseCfg => {
                let fmt = if self.config.two_level_stream_table {
                    STRTAB_BASE_CFG_FMT_2LVL
                } else {
                    0
                };
                self.store(|s| s.strtab_base_cfg = value & (STRTAB_BASE_CFG_MASK | fmt))
            }
            Reg32::CmdqProd => {
                let old = self.cmdq_prod;
                self.cmdq_prod = value & self.cmdq().index_mask();
                WriteOutcome::Effect(Effect::CmdqProd {
                    old,
                    new: self.cmdq_prod,
                })
            }
            Reg32::CmdqCons if self.enabled(Cr0::CMDQEN) => ignored(IgnoreReason::Enabled),
            Reg32::CmdqCons => {
                let mask = self.cmdq().index_mask() | CMDQ_CONS_ERR_MASK;
                self.store(|s| s.cmdq_cons = value & mask)
            }
            Reg32::EventqProd if self.enabled(Cr0::EVENTQEN) => ignored(IgnoreReason::Enabled),
            Reg32::EventqProd => {
                let mask = self.eventq().index_mask() | EVENTQ_OVERFLOW;
                self.store(|s| s.eventq_prod = value & mask)
            }
            Reg32::EventqCons => {
                let old = self.eventq_cons;
                self.eventq_cons = value & (self.eventq().index_mask() | EVENTQ_OVERFLOW);
                WriteOutcome::Effect(Effect::EventqCons {
                    old,
                    new: self.eventq_cons,
                })
            }
        }
    }

    fn write64(&mut self, r: Reg64, offset: u64, value: u64) -> WriteOutcome {
        let ignored = WriteOutcome::Ignored(Ignored {
            offset,
            register: r.name(),
            reason: IgnoreReason::Enabled,
        });
        match r {
            Reg64::GerrorIrqCfg0 => self.store(|s| s.gerror_irq.cfg0 = value & MSI_ADDRESS_MASK),
            Reg64::EventqIrqCfg0 => self.store(|s| s.eventq_irq.cfg0 = value & MSI_ADDRESS_MASK),
            Reg64::StrtabBase if self.enabled(Cr0::SMMUEN) => ignored,
            Reg64::StrtabBase => self.store(|s| s.strtab_base = value & STRTAB_BASE_MASK),
            Reg64::CmdqBase if self.enabled(Cr0::CMDQEN) => ignored,
            Reg64::CmdqBase => self.store(|s| {
                s.cmdq_base = value & QUEUE_BASE_MASK;
                let mask = s.cmdq().index_mask();
                s.cmdq_prod &= mask;
                s.cmdq_cons &= mask | CMDQ_CONS_ERR_MASK;
            }),
            Reg64::EventqBase if self.enabled(Cr0::EVENTQEN) => ignored,
            Reg64::EventqBase => self.store(|s| {
                s.eventq_base = value & QUEUE_BASE_MASK;
                let mask = s.eventq().index_mask() | EVENTQ_OVERFLOW;
                s.eventq_prod &= mask;
                s.eventq_cons &= mask;
            }),
        }
    }

    fn store(&mut self, f: impl FnOnce(&mut Self)) -> WriteOutcome {
        f(self);
        WriteOutcome::Stored
    }

    /// The CR0 bits this vSMMU implements.
    fn cr0_writable(&self) -> Cr0 {
        let mut bits = Cr0::SMMUEN | Cr0::EVENTQEN | Cr0::CMDQEN;
        bits.set(Cr0::ATSCHK, self.config.caps.ats);
        bits
    }

    /// The IRQ_CTRL bits this vSMMU implements.
    fn irq_ctrl_writable(&self) -> IrqCtrl {
        IrqCtrl::GERROR_IRQEN | IrqCtrl::EVENTQ_IRQEN
    }

    /// The GERROR bits this vSMMU implements (the MSI ones with MSIs only).
    fn errors_implemented(&self) -> GlobalErrors {
        let mut errors =
            GlobalErrors::CMDQ_ERR | GlobalErrors::EVENTQ_ABT_ERR | GlobalErrors::SFM_ERR;
        if self.config.caps.msi {
            errors |= GlobalErrors::MSI_CMDQ_ABT_ERR
                | GlobalErrors::MSI_EVENTQ_ABT_ERR
                | GlobalErrors::MSI_GERROR_ABT_ERR;
        }
        errors
    }
}

/// Refuses what no register takes: offsets past the frame, 8- and 16-bit and
/// unaligned accesses.
fn check(offset: u64, width: Width) -> Result<(), AccessError> {
    let len = width.bytes();
    if offset >= offset::FRAME_SIZE {
        Err(AccessError::OutOfRange { offset })
    } else if matches!(width, Width::U8 | Width::U16) {
        Err(AccessError::Width { offset, len })
    } else if offset % u64::from(len) != 0 {
        Err(AccessError::Unaligned { offset, len })
    } else {
        Ok(())
    }
}

fn reserved(offset: u64) -> WriteOutcome {
    WriteOutcome::Ignored(Ignored {
        offset,
        register: "reserved",
        reason: IgnoreReason::Reserved,
    })
}
