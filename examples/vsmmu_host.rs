// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! A vSMMUv3 on the host, no kernel needed (`cargo run --example vsmmu_host`): the
//! VMM's side of `iommufd::vsmmu` wired as a VMM wires it, then a few steps of a
//! guest's SMMUv3 driver played through the MMIO entry points, printing what the
//! vSMMU did at each.
//!
//! The kernel's stand-ins are the crate's own: [`RecordingSink`] takes the
//! invalidations a vIOMMU would send, [`FakeGuestMemory`] is guest RAM. A VMM puts
//! `VIommuAllocated<Smmuv3>`, `MappedGuestMemory` over its memfd and
//! [`Devices`](iommufd::vsmmu::Devices) of bound devices in their places (the
//! module documentation of `iommufd::vsmmu` shows that wiring); the MMIO and
//! interrupt side below is the same.

use iommufd::arch::Smmuv3;
use iommufd::arch::smmuv3::{SmmuCaps, Ste, command as cmd};
use iommufd::batch::{InvalidationBatch, RecordingSink};
use iommufd::states::GuestStage1;
use iommufd::uapi::{HwCapabilities, IommuHwInfoArmSmmuv3};
use iommufd::vsmmu::{
    Backend, Cr0, FakeGuestMemory, GuestMemory, Interrupt, Interrupts, IrqCtrl, Registers, VSmmu,
    VsmmuConfig, Width, offset,
};
use zerocopy::IntoBytes;

/// Where guest RAM starts and what the guest driver puts in it.
const RAM: u64 = 0x4000_0000;
const STRTAB: u64 = RAM;
const CMDQ: u64 = RAM + 0x1_0000;
const EVTQ: u64 = RAM + 0x2_0000;
const CD_TABLE: u64 = RAM + 0x3_0000;
/// The PCI device's guest StreamID (its requester ID through `iommu-map`).
const SID: u32 = 8;
/// SMMU_*_BASE.RA/WA: the guest's "read/write allocate" hint.
const ALLOCATE: u64 = 1 << 62;

/// The devices behind the vSMMU. A VMM uses `Devices`, which holds each bound
/// device's runtime state and makes the kernel objects an STE asks for; this one
/// prints what each STE would do.
struct Printing;

impl Backend for Printing {
    type Family = Smmuv3;

    fn has_device(&self, sid: u32) -> bool {
        sid == SID
    }

    fn device_after(&self, after: Option<u32>) -> Option<u32> {
        (after.is_none_or(|a| a < SID)).then_some(SID)
    }

    fn apply(&mut self, sid: u32, stage1: GuestStage1<Smmuv3>) -> iommufd::Result<()> {
        let what = match stage1 {
            GuestStage1::Default(d) => format!("{d:?} (no nested HWPT)"),
            GuestStage1::Translate(_) => "translate: a nested HWPT on the vIOMMU".into(),
        };
        println!("  device {sid:#x}: {what}");
        Ok(())
    }
}

/// The VMM's interrupt controller: prints what it would inject.
struct Gic;

impl Interrupts for Gic {
    fn raise(&self, which: Interrupt) {
        println!("  interrupt: {which:?} (the SPI the device tree names for it)");
    }

    fn msi(&self, address: u64, data: u32) {
        println!("  MSI: {data:#x} to {address:#x}");
    }
}

type Model<'a> = VSmmu<&'a FakeGuestMemory, Printing, &'a RecordingSink<Smmuv3>, Gic>;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // --- The VMM, once per vSMMU (a VMM takes the host's caps from hw_info). ---
    let info = IommuHwInfoArmSmmuv3 {
        idr: [0x0d44_101b, 0x0273_0010, 0, 0x1414, 0, 0x74], // QEMU's SMMUv3
        aidr: 1,
        ..Default::default()
    };
    let host = SmmuCaps::decode(&info, HwCapabilities::empty());
    let regs = Registers::new(&host, VsmmuConfig::for_host(&host))?;
    let ram = FakeGuestMemory::new(RAM, 1 << 20);
    let sink = RecordingSink::new();
    let vsmmu: Model<'_> = VSmmu::new(regs, &ram, Printing, InvalidationBatch::new(&sink), Gic);

    // The MMIO exit handler's two calls, for the 128 KiB window.
    let write = |at: u64, value: u64, width: Width| {
        if let Err(e) = vsmmu.write(at, width, value) {
            println!("  the guest's access at {at:#x} was refused: {e}");
        }
    };
    let read32 = |at: u64| vsmmu.read(at, Width::U32).unwrap_or(0) as u32;

    // --- The guest's driver, as Linux's arm_smmu_device_reset goes. ---
    println!(
        "guest reads IDR0 = {:#x}, IDR1 = {:#x}",
        read32(offset::IDR0),
        read32(offset::IDR1)
    );
    println!("guest programs its stream table (64 STEs), command and event queues");
    ram.write(
        STRTAB + u64::from(SID) * 64,
        Ste::bypass().words().as_bytes(),
    )?;
    write(offset::STRTAB_BASE, ALLOCATE | STRTAB, Width::U64);
    write(offset::STRTAB_BASE_CFG, 6, Width::U32); // linear, 2^6 STEs
    write(offset::CMDQ_BASE, ALLOCATE | CMDQ | 4, Width::U64); // 16 commands
    write(offset::EVENTQ_BASE, ALLOCATE | EVTQ | 4, Width::U64); // 16 events
    let irqs = IrqCtrl::GERROR_IRQEN | IrqCtrl::EVENTQ_IRQEN;
    write(offset::IRQ_CTRL, u64::from(irqs.bits()), Width::U32);
    println!("guest enables the SMMU: CR0 = SMMUEN | EVENTQEN | CMDQEN");
    let on = Cr0::SMMUEN | Cr0::EVENTQEN | Cr0::CMDQEN;
    write(offset::CR0, u64::from(on.bits()), Width::U32);
    println!("  CR0ACK = {:#x}", read32(offset::CR0ACK));

    // A command run the way the driver posts one: write the ring, then PROD.
    let mut prod = 0u32;
    let mut post = |commands: &[[u64; 2]]| -> Result<(), Box<dyn std::error::Error>> {
        for c in commands {
            let slot = u64::from(prod & 0xf);
            ram.write(CMDQ + 16 * slot, c.as_bytes())?;
            prod = (prod + 1) & 0x1f; // index and wrap bit of a 16-entry ring
        }
        write(offset::CMDQ_PROD, u64::from(prod), Width::U32);
        let cons = read32(offset::CMDQ_CONS);
        println!("  CMDQ_CONS = {cons:#x} (PROD {prod:#x})");
        Ok(())
    };
    let words = |c: iommufd::uapi::IommuViommuArmSmmuv3Invalidate| [c.cmd[0].get(), c.cmd[1].get()];

    println!("guest points the device's STE at its CD table: CFGI_STE, CMD_SYNC");
    let ste = Ste::translate(CD_TABLE)?;
    ram.write(STRTAB + u64::from(SID) * 64, ste.words().as_bytes())?;
    post(&[words(cmd::cfgi_ste(SID, true)), words(cmd::sync())])?;

    println!("guest unmaps two pages: TLBI_NH_VA x2, CMD_SYNC");
    post(&[
        words(cmd::tlbi_nh_va(1, 0x8000, true)),
        words(cmd::tlbi_nh_va(1, 0x9000, true)),
        words(cmd::sync()),
    ])?;
    let sent = sink.submissions();
    println!(
        "  the kernel got {} call(s): {:?} commands each",
        sent.len(),
        sent.iter().map(|s| s.entries.len()).collect::<Vec<_>>()
    );

    println!("guest posts a command with an opcode the SMMU does not have");
    post(&[[0xff, 0], words(cmd::sync())])?;
    let gerror = read32(offset::GERROR);
    println!(
        "  GERROR = {gerror:#x}, CONS.ERR = {} (CERROR_ILL): the queue halts",
        read32(offset::CMDQ_CONS) >> 24
    );
    println!("guest replaces it with a CMD_SYNC and acknowledges: GERRORN = GERROR");
    let cons = read32(offset::CMDQ_CONS) & 0xf;
    ram.write(CMDQ + 16 * u64::from(cons), words(cmd::sync()).as_bytes())?;
    write(offset::GERRORN, u64::from(gerror), Width::U32);
    println!(
        "  CMDQ_CONS = {:#x}, GERROR ^ GERRORN = {:#x}",
        read32(offset::CMDQ_CONS),
        read32(offset::GERROR) ^ read32(offset::GERRORN)
    );
    println!("{:?}", vsmmu.stats());
    Ok(())
}
