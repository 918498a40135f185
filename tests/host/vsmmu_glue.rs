// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The whole vSMMU ([`VSmmu`]) through its MMIO entry points, over fake guest RAM,
//! no devices and the recording fake of the kernel: what the glue between the
//! register file and the command queue does that neither does alone. No kernel.

use iommufd::arch::Smmuv3;
use iommufd::arch::smmuv3::{SmmuCaps, command as cmd};
use iommufd::batch::{InvalidationBatch, RecordingSink};
use iommufd::states::GuestStage1;
use iommufd::uapi::{HwCapabilities, IommuHwInfoArmSmmuv3, IommuViommuArmSmmuv3Invalidate as Cmd};
use iommufd::vsmmu::{
    Backend, Cr0, FakeGuestMemory, GlobalErrors, NoInterrupts, Registers, VSmmu, VsmmuConfig,
    Width, offset,
};
use zerocopy::IntoBytes;

const RAM: u64 = 0x4000_0000;
/// The guest's command queue: 8 entries.
const CMDQ: u64 = RAM + 0x1000;
const ASID: u16 = 1;

/// A vSMMU with no device behind it.
struct NoDevices;

impl Backend for NoDevices {
    type Family = Smmuv3;

    fn has_device(&self, _: u32) -> bool {
        false
    }

    fn device_after(&self, _: Option<u32>) -> Option<u32> {
        None
    }

    fn apply(&mut self, _: u32, _: GuestStage1<Smmuv3>) -> iommufd::Result<()> {
        Ok(())
    }
}

fn host() -> SmmuCaps {
    // QEMU 10's SMMUv3.
    let idr = [0x0d44_101b, 0x0273_0010, 0, 0x1414, 0, 0x74];
    let info = IommuHwInfoArmSmmuv3 {
        idr,
        aidr: 1,
        ..Default::default()
    };
    SmmuCaps::decode(&info, HwCapabilities::empty())
}

type Smmu<'a> = VSmmu<&'a FakeGuestMemory, NoDevices, &'a RecordingSink<Smmuv3>, NoInterrupts>;

fn vsmmu<'a>(ram: &'a FakeGuestMemory, sink: &'a RecordingSink<Smmuv3>) -> Smmu<'a> {
    let host = host();
    let regs = Registers::new(&host, VsmmuConfig::for_host(&host)).unwrap();
    VSmmu::new(
        regs,
        ram,
        NoDevices,
        InvalidationBatch::new(sink),
        NoInterrupts,
    )
}

fn read(smmu: &Smmu<'_>, at: u64) -> u32 {
    smmu.read(at, Width::U32).unwrap() as u32
}

fn write(smmu: &Smmu<'_>, at: u64, value: u32) {
    smmu.write(at, Width::U32, value.into()).unwrap();
}

fn post(ram: &FakeGuestMemory, index: u32, command: Cmd) {
    let at = CMDQ + u64::from(index & 7) * 16;
    ram.poke(at, command.as_bytes()).unwrap();
}

/// While a command error halts the queue, a further CMDQ_PROD write (another CPU
/// posting before the GERROR handler ran) must leave CMDQ_CONS, ERR included,
/// as the error left it: Linux's handler reads ERR to decide what to do
/// (`arm_smmu_cmdq_skip_err`), and with ERR cleared it would leave the illegal
/// command in place, to halt the queue again.
#[test]
fn a_halted_queue_keeps_cons_and_its_err_until_the_guest_acknowledges() {
    let ram = FakeGuestMemory::new(RAM, 0x4000);
    let sink = RecordingSink::new();
    let smmu = vsmmu(&ram, &sink);
    smmu.write(offset::CMDQ_BASE, Width::U64, CMDQ | 3).unwrap();
    write(&smmu, offset::CR0, Cr0::CMDQEN.bits());
    assert_eq!(read(&smmu, offset::CR0ACK), Cr0::CMDQEN.bits());

    post(&ram, 0, cmd::tlbi_nh_asid(ASID));
    post(&ram, 1, cmd::command(0x7f, 0)); // no such opcode
    post(&ram, 2, cmd::tlbi_nh_asid(ASID + 1));
    post(&ram, 3, cmd::sync());
    write(&smmu, offset::CMDQ_PROD, 4);
    let halted = 1 | 1 << 24; // CONS at the command, ERR = CERROR_ILL
    assert_eq!(read(&smmu, offset::CMDQ_CONS), halted);
    let gerror = read(&smmu, offset::GERROR);
    assert_eq!(gerror, GlobalErrors::CMDQ_ERR.bits());
    assert_eq!(sink.accepted(), [cmd::tlbi_nh_asid(ASID)]);

    post(&ram, 4, cmd::sync());
    write(&smmu, offset::CMDQ_PROD, 5);
    assert_eq!(read(&smmu, offset::CMDQ_CONS), halted, "still halted");
    assert_eq!(sink.accepted().len(), 1, "nothing after the error ran");

    // The guest's GERROR handler: the illegal command becomes a CMD_SYNC, then
    // GERRORN = GERROR; the queue runs to PROD.
    post(&ram, 1, cmd::sync());
    write(&smmu, offset::GERRORN, gerror);
    assert_eq!(read(&smmu, offset::CMDQ_CONS), 5);
    assert_eq!(
        sink.accepted(),
        [cmd::tlbi_nh_asid(ASID), cmd::tlbi_nh_asid(ASID + 1)]
    );
}
