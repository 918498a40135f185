// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The vSMMU register file (IHI 0070 chapter 6): the ID registers as the inverse
//! of the decode, the guest's capabilities from the host's and the check that
//! refuses what the host cannot back, each register's access rules, widths,
//! RAZ/WI, the page-1 registers, and random accesses that never panic and leave
//! only states the spec allows.

use iommufd::arch::smmuv3::SmmuCaps;
use iommufd::uapi::{HwCapabilities, HwInfoArmSmmuv3Flags, IommuHwInfoArmSmmuv3};
use iommufd::vsmmu::{
    AccessError, CError, ConfigError, Cr0, Effect, GlobalErrors, IgnoreReason, Ignored, IrqCtrl,
    MsiWrite, Registers, VsmmuConfig, Width, WriteOutcome, offset as o,
};
use proptest::prelude::*;

/// QEMU 10's SMMUv3 registers, as GET_HW_INFO reported them in the arm64 tier
/// (stage 1 and 2, 16-bit ASIDs, no ATS, no SSIDs, 44-bit OAS, terminate only).
pub(crate) fn qemu_host() -> SmmuCaps {
    let info = IommuHwInfoArmSmmuv3 {
        idr: [0x0d44_101b, 0x0273_0010, 0, 0x1414, 0, 0x74],
        iidr: 0,
        aidr: 1,
        ..Default::default()
    };
    SmmuCaps::decode(&info, HwCapabilities::empty())
}

/// A host with everything a guest can be given: ATS, SSIDs, coherency.
fn rich_host() -> SmmuCaps {
    let mut host = qemu_host();
    host.ats = true;
    host.ssid_bits = 20;
    host.coherent = true;
    host.cd_two_level = true;
    host
}

/// The register file of the default guest of `host`, with MSIs if `msi`.
fn registers(host: &SmmuCaps, msi: bool) -> Registers {
    let mut config = VsmmuConfig::for_host(host);
    config.caps.msi = msi;
    Registers::new(host, config).expect("the default guest fits its host")
}

fn read(r: &Registers, offset: u64) -> u64 {
    r.read(offset, Width::U32).expect("an aligned 32-bit read")
}

fn write(r: &mut Registers, offset: u64, value: u64) -> WriteOutcome {
    r.write(offset, Width::U32, value)
        .expect("an aligned 32-bit write")
}

fn write64(r: &mut Registers, offset: u64, value: u64) -> WriteOutcome {
    r.write(offset, Width::U64, value)
        .expect("an aligned 64-bit write")
}

fn ignored(outcome: WriteOutcome) -> IgnoreReason {
    match outcome {
        WriteOutcome::Ignored(Ignored { reason, .. }) => reason,
        other => panic!("expected the write to be ignored, got {other:?}"),
    }
}

/// The guest enables `what` and the glue acknowledges at once.
fn enable(r: &mut Registers, what: Cr0) {
    let cr0 = r.cr0() | what;
    write(r, o::CR0, cr0.bits().into());
    r.set_cr0ack(cr0);
}

/// Any capabilities `SmmuCaps::decode` can return: the decode of any registers,
/// flags and generic capabilities.
fn decoded_caps() -> impl Strategy<Value = SmmuCaps> {
    (
        any::<[u32; 6]>(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        any::<u64>(),
    )
        .prop_map(|(idr, iidr, aidr, flags, capabilities)| {
            let info = IommuHwInfoArmSmmuv3 {
                flags,
                idr,
                iidr,
                aidr,
                ..Default::default()
            };
            SmmuCaps::decode(&info, HwCapabilities::from_bits_retain(capabilities))
        })
}

proptest! {
    /// decode(encode(x)) == x for every x the decode can produce, and the
    /// register file's own fields (queue sizes, ST_LEVEL, ...) do not disturb it.
    #[test]
    fn decode_inverts_encode(
        caps in decoded_caps(),
        cmdqs in 0u8..=19,
        eventqs in 0u8..=19,
        two_level: bool,
    ) {
        let info = caps.to_hw_info();
        prop_assert_eq!(SmmuCaps::decode(&info, HwCapabilities::empty()), caps);
        prop_assert_eq!(caps.encode().idr, info.idr);
        prop_assert_eq!(
            HwInfoArmSmmuv3Flags::from_bits_retain(info.flags)
                .contains(HwInfoArmSmmuv3Flags::ERRATA_REPEAT_TLBI_CFGI),
            caps.repeat_tlbi_cfgi
        );

        let config = VsmmuConfig {
            caps,
            cmdq_max_log2size: cmdqs,
            eventq_max_log2size: eventqs,
            two_level_stream_table: two_level,
            abort_at_reset: false,
        };
        let id = config.id_registers();
        let mut without_errata = caps;
        without_errata.repeat_tlbi_cfgi = false;
        prop_assert_eq!(
            SmmuCaps::decode(&id.hw_info(HwInfoArmSmmuv3Flags::empty()), HwCapabilities::empty()),
            without_errata
        );
        prop_assert_eq!(((id.idr[1] >> 21) & 0x1f) as u8, cmdqs);
        prop_assert_eq!(((id.idr[1] >> 16) & 0x1f) as u8, eventqs);
        prop_assert_eq!((id.idr[0] >> 27) & 0b11, u32::from(two_level));
    }
}

/// What `arm_smmu_device_hw_probe` (Linux 7.3) needs of the ID registers, in the
/// default guest of the rig's QEMU host.
#[test]
fn the_default_guest_passes_the_linux_probe() {
    let r = registers(&qemu_host(), false);
    let [idr0, idr1, _, idr3, _, idr5] = r.id_registers().idr;
    assert_eq!((idr0 >> 21) & 0b11, 0b10, "TTENDIAN little-endian");
    assert_eq!(idr0 & 0b11, 0b10, "S1P without S2P");
    assert_eq!((idr0 >> 2) & 0b11, 0b10, "TTF AArch64");
    assert_eq!(
        idr1 & (0b111 << 28),
        0,
        "no TABLES_PRESET, QUEUES_PRESET, REL"
    );
    assert!(
        (idr1 >> 21) & 0x1f > 6,
        "CMDQS holds a batch and a CMD_SYNC"
    );
    assert_eq!((idr1 >> 21) & 0x1f, 19);
    assert_eq!((idr1 >> 16) & 0x1f, 19);
    assert_eq!(idr1 & 0x3f, 16, "SIDSIZE");
    assert_eq!((idr0 >> 27) & 0b11, 0b01, "ST_LEVEL 2-level");
    assert_eq!((idr0 >> 24) & 0b11, 1, "stall model: terminate only");
    assert_eq!(idr0 & (1 << 13), 0, "wired interrupts by default");
    assert_eq!(idr0 & (1 << 18), 0, "no VMID16 without stage 2");
    assert_eq!(idr3 & (1 << 10), 1 << 10, "range invalidation, as the host");
    assert_eq!(idr5 & 0b111, 4, "44-bit OAS, as the host");
    assert_eq!(r.id_registers().iidr, 0);
}

#[test]
fn for_guest_keeps_what_the_host_walks_and_drops_what_it_owns() {
    let host = rich_host();
    let guest = SmmuCaps::for_guest(&host);
    assert!(guest.stages.stage1 && !guest.stages.stage2);
    assert!(guest.ats && guest.coherent && guest.cd_two_level);
    assert_eq!(
        (guest.asid_bits, guest.ssid_bits, guest.oas_bits),
        (host.asid_bits, host.ssid_bits, host.oas_bits)
    );
    assert!(!guest.pri && !guest.msi && !guest.s2fwb && !guest.repeat_tlbi_cfgi);
    assert_eq!((guest.stall_model, guest.sid_bits), (1, 16));
    assert!(host.mismatches(&guest).is_empty());
}

#[test]
fn the_check_refuses_what_the_host_or_the_model_cannot_back() {
    let mut host = qemu_host();
    host.coherent = false;
    let refused = |change: fn(&mut VsmmuConfig)| {
        let mut config = VsmmuConfig::for_host(&host);
        change(&mut config);
        Registers::new(&host, config).expect_err("refused")
    };
    // The host has no SSIDs, no ATS and is not coherent: every gap is named.
    let err = refused(|c| {
        c.caps.ssid_bits = 20;
        c.caps.ats = true;
        c.caps.coherent = true;
    });
    let ConfigError::Host(gaps) = &err else {
        panic!("{err:?}")
    };
    let gaps: Vec<_> = gaps.iter().map(|m| m.what).collect();
    assert_eq!(gaps, ["SSID bits", "ATS", "coherent table walks"]);
    assert!(err.to_string().contains("SSID bits"), "{err}");

    for (change, what) in [
        (
            (|c: &mut VsmmuConfig| c.caps.stages.stage2 = true) as fn(&mut VsmmuConfig),
            "stage 2 for the guest",
        ),
        (|c| c.caps.pri = true, "PRI"),
        (|c| c.caps.stall_model = 0, "stalls (stall model)"),
        (|c| c.caps.stages.stage1 = false, "a vSMMU without stage 1"),
        (|c| c.cmdq_max_log2size = 20, "log2 command queue entries"),
        (|c| c.eventq_max_log2size = 31, "log2 event queue entries"),
        (|c| c.caps.sid_bits = 33, "StreamID bits"),
    ] {
        match refused(change) {
            ConfigError::Unsupported { what: w, .. } => assert_eq!(w, what),
            other => panic!("{what}: {other:?}"),
        }
    }

    // A host without stage 2 cannot nest at all.
    let mut flat = host;
    flat.stages.stage2 = false;
    let err = Registers::new(&flat, VsmmuConfig::for_host(&flat)).unwrap_err();
    assert!(err.to_string().contains("stage 2 (for nesting)"), "{err}");

    // A host that forces stalls cannot back a terminate-only guest.
    let mut forced = host;
    forced.stall_model = 2;
    assert!(matches!(
        Registers::new(&forced, VsmmuConfig::for_host(&forced)),
        Err(ConfigError::Host(g)) if g[0].what == "stall model"
    ));
}

#[test]
fn id_registers_read_back_and_ignore_writes() {
    let mut r = registers(&qemu_host(), false);
    let id = *r.id_registers();
    let offsets = [o::IDR0, o::IDR1, o::IDR2, o::IDR3, o::IDR4, o::IDR5];
    for (n, &offset) in offsets.iter().enumerate() {
        assert_eq!(read(&r, offset), u64::from(id.idr[n]));
        assert_eq!(
            ignored(write(&mut r, offset, 0xffff_ffff)),
            IgnoreReason::ReadOnly
        );
        assert_eq!(read(&r, offset), u64::from(id.idr[n]));
    }
    assert_eq!(read(&r, o::IIDR), u64::from(id.iidr));
    assert_eq!(read(&r, o::AIDR), 1);
    for ro in [
        o::IIDR,
        o::AIDR,
        o::CR0ACK,
        o::STATUSR,
        o::IRQ_CTRLACK,
        o::GERROR,
    ] {
        assert_eq!(ignored(write(&mut r, ro, !0)), IgnoreReason::ReadOnly);
        assert_eq!(read(&r, ro), if ro == o::AIDR { 1 } else { 0 });
    }
}

#[test]
fn cr0_is_acknowledged_only_by_the_glue() {
    let mut r = registers(&qemu_host(), false);
    let out = write(&mut r, o::CR0, 0xffff_ffff);
    let implemented = Cr0::SMMUEN | Cr0::EVENTQEN | Cr0::CMDQEN;
    assert_eq!(
        out,
        WriteOutcome::Effect(Effect::Cr0 {
            old: Cr0::empty(),
            new: implemented
        })
    );
    assert_eq!(read(&r, o::CR0), u64::from(implemented.bits()));
    assert_eq!(read(&r, o::CR0ACK), 0, "no ack until the glue gives it");
    r.set_cr0ack(Cr0::all());
    assert_eq!(
        r.cr0ack(),
        implemented,
        "PRIQEN and ATSCHK are not implemented"
    );

    // ATSCHK exists with ATS.
    let host = rich_host();
    let mut r = registers(&host, false);
    write(&mut r, o::CR0, 0x1f);
    assert_eq!(r.cr0(), implemented | Cr0::ATSCHK);
}

#[test]
fn cr1_and_cr2_are_fixed_while_enabled() {
    let mut r = registers(&qemu_host(), false);
    assert_eq!(write(&mut r, o::CR1, 0xffff_ffff), WriteOutcome::Stored);
    assert_eq!(read(&r, o::CR1), 0xfff);
    assert_eq!(write(&mut r, o::CR2, 0xffff_ffff), WriteOutcome::Stored);
    assert_eq!(
        read(&r, o::CR2),
        0b110,
        "RECINVSID and PTM; no E2H without HYP"
    );

    enable(&mut r, Cr0::CMDQEN);
    assert_eq!(ignored(write(&mut r, o::CR1, 0)), IgnoreReason::Enabled);
    assert_eq!(
        write(&mut r, o::CR2, 0),
        WriteOutcome::Stored,
        "CR2 waits for SMMUEN only"
    );
    enable(&mut r, Cr0::SMMUEN);
    assert_eq!(ignored(write(&mut r, o::CR2, 0b10)), IgnoreReason::Enabled);
    // Disabled in CR0 but not yet acknowledged: still enabled.
    write(&mut r, o::CR0, 0);
    assert_eq!(ignored(write(&mut r, o::CR1, 0x555)), IgnoreReason::Enabled);
    r.set_cr0ack(Cr0::empty());
    assert_eq!(write(&mut r, o::CR1, 0x555), WriteOutcome::Stored);
    assert_eq!(r.cr1(), 0x555);
}

#[test]
fn gbpa_updates_complete_at_once_and_need_update() {
    let mut r = registers(&qemu_host(), false);
    assert_eq!(
        read(&r, o::GBPA),
        0x1000,
        "reset: SHCFG use incoming, bypass"
    );
    assert!(!r.gbpa_abort());
    assert_eq!(
        ignored(write(&mut r, o::GBPA, 1 << 20)),
        IgnoreReason::NoUpdate
    );
    assert!(!r.gbpa_abort());
    let out = write(&mut r, o::GBPA, (1 << 31) | (1 << 20) | 0xffff_0000);
    assert_eq!(
        out,
        WriteOutcome::Effect(Effect::Gbpa {
            old: 0x1000,
            new: 0x001f_0000
        })
    );
    assert!(r.gbpa_abort());
    assert_eq!(read(&r, o::GBPA) & (1 << 31), 0, "Update reads 0: done");

    let host = qemu_host();
    let mut config = VsmmuConfig::for_host(&host);
    config.abort_at_reset = true;
    let mut r = Registers::new(&host, config).unwrap();
    assert!(r.gbpa_abort());
    write(&mut r, o::GBPA, 1 << 31);
    r.reset();
    assert!(r.gbpa_abort(), "reset restores the configured ABORT");
}

#[test]
fn irq_ctrl_and_global_errors() {
    let mut r = registers(&qemu_host(), false);
    let out = write(&mut r, o::IRQ_CTRL, 0xffff_ffff);
    let enables = IrqCtrl::GERROR_IRQEN | IrqCtrl::EVENTQ_IRQEN;
    assert_eq!(
        out,
        WriteOutcome::Effect(Effect::IrqCtrl {
            old: IrqCtrl::empty(),
            new: enables
        })
    );
    assert_eq!(read(&r, o::IRQ_CTRLACK), 0);
    r.set_irq_ctrlack(IrqCtrl::all());
    assert_eq!(read(&r, o::IRQ_CTRLACK), u64::from(enables.bits()));

    // Raising toggles GERROR once; the guest acknowledges by toggling GERRORN.
    let raised = r.raise_global_errors(GlobalErrors::CMDQ_ERR | GlobalErrors::PRIQ_ABT_ERR);
    assert_eq!(
        raised,
        GlobalErrors::CMDQ_ERR,
        "PRIQ errors are not implemented"
    );
    assert_eq!(
        r.raise_global_errors(GlobalErrors::CMDQ_ERR),
        GlobalErrors::empty()
    );
    assert_eq!(read(&r, o::GERROR), 1);
    assert_eq!(r.active_global_errors(), GlobalErrors::CMDQ_ERR);
    let out = write(&mut r, o::GERRORN, 0xffff_ffff);
    let implemented = GlobalErrors::CMDQ_ERR | GlobalErrors::EVENTQ_ABT_ERR | GlobalErrors::SFM_ERR;
    assert_eq!(
        out,
        WriteOutcome::Effect(Effect::Gerrorn {
            old: GlobalErrors::empty(),
            new: implemented
        })
    );
    let gerror = read(&r, o::GERROR);
    write(&mut r, o::GERRORN, gerror);
    assert!(r.active_global_errors().is_empty());
    // A second error toggles GERROR back.
    r.raise_global_errors(GlobalErrors::CMDQ_ERR);
    assert_eq!(read(&r, o::GERROR), 0);
    assert_eq!(r.active_global_errors(), GlobalErrors::CMDQ_ERR);
}

#[test]
fn msi_registers_exist_only_with_msis() {
    let host = qemu_host();
    let mut wired = registers(&host, false);
    for offset in [o::GERROR_IRQ_CFG0, o::EVENTQ_IRQ_CFG0] {
        assert_eq!(
            ignored(write64(&mut wired, offset, 0x1234_5678)),
            IgnoreReason::Reserved
        );
        assert_eq!(wired.read(offset, Width::U64), Ok(0));
    }
    assert_eq!(
        ignored(write(&mut wired, o::GERROR_IRQ_CFG1, 7)),
        IgnoreReason::Reserved
    );
    assert_eq!(wired.gerror_msi(), None);

    let mut r = registers(&host, true);
    assert_eq!(r.gerror_msi(), None, "address 0: no MSI");
    write64(&mut r, o::GERROR_IRQ_CFG0, u64::MAX);
    assert_eq!(read(&r, o::GERROR_IRQ_CFG0), 0xffff_fffc);
    assert_eq!(read(&r, o::GERROR_IRQ_CFG0 + 4), 0x000f_ffff);
    write(&mut r, o::GERROR_IRQ_CFG1, 0xdead_beef);
    write(&mut r, o::GERROR_IRQ_CFG2, 0xffff_ffff);
    assert_eq!(
        r.gerror_msi(),
        Some(MsiWrite {
            address: 0x000f_ffff_ffff_fffc,
            data: 0xdead_beef,
            memory_attributes: 0xf,
            shareability: 0b11,
        })
    );
    // The event queue's, in two 32-bit halves.
    write(&mut r, o::EVENTQ_IRQ_CFG0, 0x0800_0040);
    write(&mut r, o::EVENTQ_IRQ_CFG0 + 4, 0x1);
    write(&mut r, o::EVENTQ_IRQ_CFG1, 42);
    write(&mut r, o::EVENTQ_IRQ_CFG2, 1);
    assert_eq!(
        r.eventq_msi(),
        Some(MsiWrite {
            address: 0x1_0800_0040,
            data: 42,
            memory_attributes: 1,
            shareability: 0,
        })
    );
    // GERROR's MSI bits exist with MSIs.
    assert_eq!(
        r.raise_global_errors(GlobalErrors::MSI_EVENTQ_ABT_ERR),
        GlobalErrors::MSI_EVENTQ_ABT_ERR
    );
}

#[test]
fn stream_table_registers_are_fixed_while_smmuen() {
    let mut r = registers(&qemu_host(), false);
    assert_eq!(
        write64(&mut r, o::STRTAB_BASE, u64::MAX),
        WriteOutcome::Stored
    );
    assert_eq!(r.strtab_base(), (1 << 62) | 0x000f_ffff_ffff_ffc0);
    // Two 32-bit halves, as a 32-bit guest writes them.
    write(&mut r, o::STRTAB_BASE, 0x8000_0000);
    write(&mut r, o::STRTAB_BASE + 4, 0x12);
    assert_eq!(r.strtab_base(), 0x12_8000_0000);
    assert_eq!(r.read(o::STRTAB_BASE, Width::U64), Ok(0x12_8000_0000));
    write(&mut r, o::STRTAB_BASE_CFG, 0xffff_ffff);
    assert_eq!(
        r.strtab_base_cfg(),
        0x1_07ff,
        "FMT 2-level, SPLIT, LOG2SIZE"
    );

    enable(&mut r, Cr0::SMMUEN);
    assert_eq!(
        ignored(write64(&mut r, o::STRTAB_BASE, 0)),
        IgnoreReason::Enabled
    );
    assert_eq!(
        ignored(write(&mut r, o::STRTAB_BASE + 4, 0)),
        IgnoreReason::Enabled
    );
    assert_eq!(
        ignored(write(&mut r, o::STRTAB_BASE_CFG, 0)),
        IgnoreReason::Enabled
    );
    assert_eq!(
        (r.strtab_base(), r.strtab_base_cfg()),
        (0x12_8000_0000, 0x1_07ff)
    );

    // Without 2-level tables advertised, FMT stays linear.
    let host = qemu_host();
    let mut config = VsmmuConfig::for_host(&host);
    config.two_level_stream_table = false;
    let mut r = Registers::new(&host, config).unwrap();
    write(&mut r, o::STRTAB_BASE_CFG, 0x1_0008);
    assert_eq!(r.strtab_base_cfg(), 8);
}

#[test]
fn command_queue_registers() {
    let mut r = registers(&qemu_host(), false);
    // 256 entries at 0x4000_0000, RA set, as Linux writes it with one writeq.
    write64(&mut r, o::CMDQ_BASE, (1 << 62) | 0x4000_0000 | 8);
    assert_eq!((r.cmdq().base(), r.cmdq().log2size()), (0x4000_0000, 8));
    let out = write(&mut r, o::CMDQ_PROD, 0xffff_ffff);
    assert_eq!(
        out,
        WriteOutcome::Effect(Effect::CmdqProd { old: 0, new: 0x1ff })
    );
    assert_eq!(
        write(&mut r, o::CMDQ_CONS, 0x7f00_0105),
        WriteOutcome::Stored
    );
    assert_eq!(r.cmdq_cons(), 0x7f00_0105, "CONS and ERR, while disabled");

    enable(&mut r, Cr0::CMDQEN);
    assert_eq!(
        ignored(write(&mut r, o::CMDQ_CONS, 0)),
        IgnoreReason::Enabled
    );
    assert_eq!(
        ignored(write64(&mut r, o::CMDQ_BASE, 0)),
        IgnoreReason::Enabled
    );
    assert!(matches!(
        write(&mut r, o::CMDQ_PROD, 0x103),
        WriteOutcome::Effect(Effect::CmdqProd {
            old: 0x1ff,
            new: 0x103
        })
    ));
    // The glue consumes and reports an illegal command at 0x102.
    r.set_cmdq_cons(0xffff_f102, CError::Ill);
    assert_eq!(read(&r, o::CMDQ_CONS), 0x0100_0102);
    assert_eq!(r.cmdq().pending(r.cmdq_prod(), r.cmdq_cons()), 1);

    // LOG2SIZE above CMDQS reads as CMDQS; a new base re-masks PROD and CONS.
    let host = qemu_host();
    let mut config = VsmmuConfig::for_host(&host);
    config.cmdq_max_log2size = 7;
    let mut r = Registers::new(&host, config).unwrap();
    write64(&mut r, o::CMDQ_BASE, 0x1000 | 19);
    assert_eq!(r.cmdq().log2size(), 7);
    write(&mut r, o::CMDQ_PROD, 0xff);
    write64(&mut r, o::CMDQ_BASE, 0x1000 | 2);
    assert_eq!(r.cmdq_prod(), 0b111);
}

#[test]
fn event_queue_registers_live_on_page_1_with_a_page_0_alias() {
    let mut r = registers(&qemu_host(), false);
    write64(&mut r, o::EVENTQ_BASE, 0x5000_0000 | 4);
    assert_eq!(r.eventq().index_mask(), 0x1f);
    // PROD is the guest's to initialise while the queue is off.
    assert_eq!(
        write(&mut r, o::EVENTQ_PROD, 0xffff_ffff),
        WriteOutcome::Stored
    );
    assert_eq!(r.eventq_prod(), 0x8000_001f);
    assert_eq!(read(&r, o::EVENTQ_PROD_PAGE0), 0x8000_001f);
    write(&mut r, o::EVENTQ_PROD_PAGE0, 0);
    assert_eq!(read(&r, o::EVENTQ_PROD), 0);

    enable(&mut r, Cr0::EVENTQEN);
    assert_eq!(
        ignored(write(&mut r, o::EVENTQ_PROD, 5)),
        IgnoreReason::Enabled
    );
    assert_eq!(
        ignored(write64(&mut r, o::EVENTQ_BASE, 0)),
        IgnoreReason::Enabled
    );
    r.set_eventq_prod(0x23, true);
    assert_eq!(read(&r, o::EVENTQ_PROD), 0x8000_0003);
    assert_eq!(
        write(&mut r, o::EVENTQ_CONS, 0x8000_0003),
        WriteOutcome::Effect(Effect::EventqCons {
            old: 0,
            new: 0x8000_0003
        })
    );
    assert_eq!(read(&r, o::EVENTQ_CONS_PAGE0), 0x8000_0003);
    assert!(r.eventq().is_empty(r.eventq_prod(), r.eventq_cons()));
}

#[test]
fn refused_accesses_and_reserved_offsets() {
    let mut r = registers(&qemu_host(), false);
    let before = r.clone();
    assert_eq!(
        r.read(o::CR0, Width::U8),
        Err(AccessError::Width {
            offset: 0x20,
            len: 1
        })
    );
    assert_eq!(
        r.write(o::CR0, Width::U16, 1),
        Err(AccessError::Width {
            offset: 0x20,
            len: 2
        })
    );
    assert_eq!(
        r.write(o::CR0 + 2, Width::U32, 1),
        Err(AccessError::Unaligned {
            offset: 0x22,
            len: 4
        })
    );
    assert_eq!(
        r.read(o::STRTAB_BASE + 4, Width::U64),
        Err(AccessError::Unaligned {
            offset: 0x84,
            len: 8
        })
    );
    for pair in [
        o::CR0,
        o::CMDQ_PROD,
        o::GERROR,
        o::IDR0,
        o::STRTAB_BASE_CFG,
        o::EVENTQ_PROD,
    ] {
        assert_eq!(
            r.write(pair, Width::U64, 1),
            Err(AccessError::SpansRegisters { offset: pair })
        );
        assert_eq!(
            r.read(pair, Width::U64),
            Err(AccessError::SpansRegisters { offset: pair })
        );
    }
    assert_eq!(
        r.read(o::FRAME_SIZE, Width::U32),
        Err(AccessError::OutOfRange { offset: 0x2_0000 })
    );
    assert_eq!(
        r.write(u64::MAX - 3, Width::U32, 1),
        Err(AccessError::OutOfRange {
            offset: u64::MAX - 3
        })
    );
    assert_eq!(r, before, "refused accesses change nothing");

    // Reserved: holes, AGBPA, the PRI queue, the rest of page 1, Secure offsets.
    for hole in [
        0x30,
        o::AGBPA,
        0x58,
        o::PRIQ_BASE,
        0xc8,
        0xd0,
        0xe00,
        0x8000,
        o::PAGE1 + o::CR0,
        o::PAGE1 + o::CMDQ_PROD,
        o::PAGE1 + 0xc8,
        0x1_fffc,
    ] {
        assert_eq!(
            ignored(write(&mut r, hole, !0)),
            IgnoreReason::Reserved,
            "{hole:#x}"
        );
        assert_eq!(read(&r, hole), 0, "{hole:#x}");
    }
    assert_eq!(ignored(write64(&mut r, 0xc0, !0)), IgnoreReason::Reserved);
    assert_eq!(r.read(0x1_fff8, Width::U64), Ok(0));
    assert_eq!(r, before, "reserved offsets hold nothing");
}

#[test]
fn reset_returns_every_register_to_its_reset_value() {
    let host = qemu_host();
    let fresh = registers(&host, true);
    let mut r = fresh.clone();
    write64(&mut r, o::CMDQ_BASE, 0x1000 | 4);
    write(&mut r, o::CMDQ_PROD, 3);
    enable(&mut r, Cr0::CMDQEN | Cr0::SMMUEN);
    r.raise_global_errors(GlobalErrors::SFM_ERR);
    write64(&mut r, o::GERROR_IRQ_CFG0, 0x1000);
    r.reset();
    assert_eq!(r, fresh);
}

// ---- Random accesses ----

/// The interesting offsets: every register, both halves of the 64-bit ones,
/// and the words around them.
const OFFSETS: &[u64] = &[
    o::IDR0,
    o::IDR1,
    o::IDR5,
    o::IIDR,
    o::AIDR,
    o::CR0,
    o::CR0ACK,
    o::CR1,
    o::CR2,
    o::STATUSR,
    o::GBPA,
    o::AGBPA,
    o::IRQ_CTRL,
    o::IRQ_CTRLACK,
    o::GERROR,
    o::GERRORN,
    o::GERROR_IRQ_CFG0,
    o::GERROR_IRQ_CFG0 + 4,
    o::GERROR_IRQ_CFG1,
    o::GERROR_IRQ_CFG2,
    o::STRTAB_BASE,
    o::STRTAB_BASE + 4,
    o::STRTAB_BASE_CFG,
    o::CMDQ_BASE,
    o::CMDQ_BASE + 4,
    o::CMDQ_PROD,
    o::CMDQ_CONS,
    o::EVENTQ_BASE,
    o::EVENTQ_BASE + 4,
    o::EVENTQ_PROD_PAGE0,
    o::EVENTQ_CONS_PAGE0,
    o::EVENTQ_IRQ_CFG0,
    o::EVENTQ_IRQ_CFG0 + 4,
    o::EVENTQ_IRQ_CFG1,
    o::EVENTQ_IRQ_CFG2,
    o::PRIQ_BASE,
    o::EVENTQ_PROD,
    o::EVENTQ_CONS,
];

/// Each 32-bit register's bits that may ever read as one (with ATS and MSIs).
const STORED_BITS: &[(u64, u64)] = &[
    (o::CR0, 0x1f),
    (o::CR0ACK, 0x1f),
    (o::CR1, 0xfff),
    (o::CR2, 0b110),
    (o::STATUSR, 0),
    (o::GBPA, 0x001f_3f1f),
    (o::AGBPA, 0),
    (o::IRQ_CTRL, 0b101),
    (o::IRQ_CTRLACK, 0b101),
    (o::GERROR, 0x1b5),
    (o::GERRORN, 0x1b5),
    (o::GERROR_IRQ_CFG0, 0xffff_fffc),
    (o::GERROR_IRQ_CFG0 + 4, 0x000f_ffff),
    (o::GERROR_IRQ_CFG2, 0x3f),
    (o::STRTAB_BASE, 0xffff_ffc0),
    (o::STRTAB_BASE + 4, 0x400f_ffff),
    (o::STRTAB_BASE_CFG, 0x1_07ff),
    (o::CMDQ_BASE + 4, 0x400f_ffff),
    (o::CMDQ_CONS, 0x7f0f_ffff),
    (o::EVENTQ_BASE + 4, 0x400f_ffff),
    (o::EVENTQ_PROD, 0x800f_ffff),
    (o::EVENTQ_CONS, 0x800f_ffff),
    (o::EVENTQ_IRQ_CFG2, 0x3f),
    (o::PRIQ_BASE, 0),
];

#[derive(Debug, Clone)]
enum Op {
    /// A guest write.
    Write(u64, Width, u64),
    /// A guest read.
    Read(u64, Width),
    /// The glue acknowledges what CR0 and IRQ_CTRL ask for.
    Acknowledge,
    /// The glue raises errors.
    Raise(u32),
    /// The glue consumes commands.
    SetCmdqCons(u32, u8),
    /// The glue produces events.
    SetEventqProd(u32, bool),
}

fn width() -> impl Strategy<Value = Width> {
    prop_oneof![
        1 => Just(Width::U8),
        1 => Just(Width::U16),
        6 => Just(Width::U32),
        3 => Just(Width::U64),
    ]
}

fn an_offset() -> impl Strategy<Value = u64> {
    prop_oneof![
        6 => proptest::sample::select(OFFSETS),
        2 => 0u64..0x2_0010,
        1 => any::<u64>(),
    ]
}

fn value() -> impl Strategy<Value = u64> {
    prop_oneof![
        any::<u64>(),
        Just(u64::MAX),
        Just(0u64),
        (0u32..32).prop_map(|b| 1 << b),
        // Enables, Update, and small queue indices.
        Just(0xf),
        Just(0x8000_0000),
        0u64..64,
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (an_offset(), width(), value()).prop_map(|(o, w, v)| Op::Write(o, w, v)),
        2 => (an_offset(), width()).prop_map(|(o, w)| Op::Read(o, w)),
        2 => Just(Op::Acknowledge),
        1 => any::<u32>().prop_map(Op::Raise),
        1 => (any::<u32>(), 0u8..4).prop_map(|(i, e)| Op::SetCmdqCons(i, e)),
        1 => (any::<u32>(), any::<bool>()).prop_map(|(i, f)| Op::SetEventqProd(i, f)),
    ]
}

fn cerror(n: u8) -> CError {
    [CError::None, CError::Ill, CError::Abt, CError::AtcInvSync][usize::from(n & 3)]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any sequence of guest accesses and glue calls: nothing panics, and after
    /// every step the registers hold only what the spec allows.
    #[test]
    fn random_accesses_leave_states_the_spec_allows(
        msi: bool,
        ops in proptest::collection::vec(op(), 1..64),
    ) {
        let host = rich_host();
        let mut r = registers(&host, msi);
        let id = *r.id_registers();
        for op in ops {
            let before = r.clone();
            let guest = matches!(op, Op::Write(..) | Op::Read(..));
            match op {
                Op::Write(offset, width, value) => {
                    let out = r.write(offset, width, value);
                    if out.is_err() {
                        prop_assert_eq!(&r, &before, "a refused write changed something");
                    }
                    if let Ok(WriteOutcome::Ignored(i)) = out {
                        prop_assert!(!i.to_string().is_empty());
                        prop_assert_eq!(&r, &before, "an ignored write changed something");
                    }
                }
                Op::Read(offset, width) => {
                    let _ = r.read(offset, width);
                    prop_assert_eq!(&r, &before);
                }
                Op::Acknowledge => {
                    let (cr0, irq) = (r.cr0(), r.irq_ctrl());
                    r.set_cr0ack(cr0);
                    r.set_irq_ctrlack(irq);
                }
                Op::Raise(bits) => {
                    let active = r.active_global_errors();
                    let new = r.raise_global_errors(GlobalErrors::from_bits_retain(bits));
                    prop_assert!(!new.intersects(active), "an active error toggled again");
                }
                Op::SetCmdqCons(index, err) => r.set_cmdq_cons(index, cerror(err)),
                Op::SetEventqProd(index, flag) => r.set_eventq_prod(index, flag),
            }

            // The ID registers never change.
            prop_assert_eq!(r.id_registers(), &id);
            let offsets = [o::IDR0, o::IDR1, o::IDR2, o::IDR3, o::IDR4, o::IDR5];
            for (n, &offset) in offsets.iter().enumerate() {
                prop_assert_eq!(r.read(offset, Width::U32), Ok(u64::from(id.idr[n])));
            }
            // Only the glue acknowledges and raises.
            if guest {
                prop_assert_eq!(r.cr0ack(), before.cr0ack());
                prop_assert_eq!(r.irq_ctrlack(), before.irq_ctrlack());
                prop_assert_eq!(r.gerror(), before.gerror());
            }
            // What is configured while enabled stays as it was.
            let on = before.cr0() | before.cr0ack();
            if on.contains(Cr0::SMMUEN) {
                prop_assert_eq!(r.strtab_base(), before.strtab_base());
                prop_assert_eq!(r.strtab_base_cfg(), before.strtab_base_cfg());
                prop_assert_eq!(r.cr2(), before.cr2());
            }
            if on.contains(Cr0::CMDQEN) {
                prop_assert_eq!(r.cmdq_base(), before.cmdq_base());
                if guest {
                    prop_assert_eq!(r.cmdq_cons(), before.cmdq_cons());
                }
            }
            if on.contains(Cr0::EVENTQEN) {
                prop_assert_eq!(r.eventq_base(), before.eventq_base());
                if guest {
                    prop_assert_eq!(r.eventq_prod(), before.eventq_prod());
                }
            }
            if on.intersects(Cr0::SMMUEN | Cr0::CMDQEN | Cr0::EVENTQEN) {
                prop_assert_eq!(r.cr1(), before.cr1());
            }
            // Reserved bits read as zero; GBPA's Update always reads 0.
            for &(offset, bits) in STORED_BITS {
                let v = r.read(offset, Width::U32).unwrap();
                prop_assert_eq!(v & !bits, 0, "{:#x} reads {:#x}", offset, v);
            }
            // Indices stay inside their rings.
            let cmdq = r.cmdq();
            prop_assert_eq!(r.cmdq_prod() & !cmdq.index_mask(), 0);
            prop_assert_eq!(r.cmdq_cons() & !0x7f00_0000 & !cmdq.index_mask(), 0);
            prop_assert!(cmdq.log2size() <= 19);
            let eventq = r.eventq();
            prop_assert_eq!(r.eventq_prod() & 0x7fff_ffff & !eventq.index_mask(), 0);
            prop_assert_eq!(r.eventq_cons() & 0x7fff_ffff & !eventq.index_mask(), 0);
            // Without MSIs there is no MSI.
            if !msi {
                prop_assert_eq!(r.gerror_msi(), None);
                prop_assert_eq!(r.eventq_msi(), None);
            }
        }
    }
}
