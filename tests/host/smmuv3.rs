// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! SMMUv3 payloads: vSTE builder and parser, command classification, hw_info decode,
//! event decode. Tables from the kernel's rules, round trips, and "no input panics".

#[path = "../shared/smmuv3_tables.rs"]
pub(crate) mod tables;

use iommufd::arch::smmuv3::{
    Cacheability, CommandError, CommandRules, Config, Event, EventId, GuestCommand, Shareability,
    SmmuCaps, Ste, SteError, StreamSpan, classify, command as cmd,
};
use iommufd::arch::{Smmuv3, Stage1Config};
use iommufd::uapi::{HwCapabilities, IommuHwInfoArmSmmuv3, IommuVeventArmSmmuv3};
use proptest::prelude::*;
use tables::{COMMANDS, CaseCaps, QEMU_CAPS, STES, VSID, Verdict, bytes};
use zerocopy::{FromBytes, IntoBytes};

/// QEMU 10's SMMUv3 registers, as GET_HW_INFO reported them in the arm64 tier.
fn qemu_hw_info() -> IommuHwInfoArmSmmuv3 {
    IommuHwInfoArmSmmuv3 {
        idr: [0x0d44_101b, 0x0273_0010, 0, 0x1414, 0, 0x74],
        iidr: 0,
        aidr: 1,
        ..Default::default()
    }
}

fn caps(c: CaseCaps) -> SmmuCaps {
    let mut caps = SmmuCaps::decode(&qemu_hw_info(), HwCapabilities::empty());
    caps.asid_bits = if c.asid16 { 16 } else { 8 };
    caps.range_invalidation = c.range;
    caps.ds = c.ds;
    caps.ats = c.ats;
    caps.ssid_bits = if c.ssid { 20 } else { 0 };
    caps
}

const FULL: CaseCaps = CaseCaps {
    asid16: true,
    range: true,
    ds: true,
    ats: true,
    ssid: true,
};

fn verdict(r: &Result<GuestCommand, CommandError>) -> Verdict {
    match r {
        Ok(GuestCommand::Forward(_)) => Verdict::Forward,
        Ok(_) => Verdict::Vmm,
        Err(_) => Verdict::Illegal,
    }
}

#[test]
fn qemu_registers_decode_to_what_the_rig_measured() {
    let c = SmmuCaps::decode(&qemu_hw_info(), HwCapabilities::empty());
    assert!(c.stages.stage1 && c.stages.stage2 && c.aarch64_tables);
    assert_eq!(
        (c.asid_bits, c.ssid_bits, c.sid_bits, c.oas_bits),
        (16, 0, 16, 44)
    );
    assert!(c.range_invalidation && !c.ats && !c.ds && !c.s2fwb);
    assert!(c.granules.g4k && c.granules.g16k && c.granules.g64k);
    assert_eq!(c.arch_version, (3, 1));
    // A virtual SMMU asking for what QEMU lacks gets every gap listed.
    let mut virt = c;
    virt.ats = true;
    virt.ssid_bits = 8;
    virt.oas_bits = 48;
    let gaps: Vec<_> = c.mismatches(&virt).iter().map(|m| m.what).collect();
    assert_eq!(gaps, ["SSID bits", "ATS", "output address bits"]);
    assert!(c.mismatches(&c).is_empty());
}

/// IDR0.ATS alone does not make ATS usable: the driver's feature also needs
/// CONFIG_PCI_ATS, and GET_HW_INFO says `PCI_ATS_NOT_SUPPORTED` when ATS cannot be
/// used for the device. With the flag, the driver refuses ATC_INV (EIO), so the
/// crate must too, naming ATS; without it, ATC_INV is forwarded.
#[test]
fn ats_needs_idr0_ats_and_no_pci_ats_not_supported() {
    let mut info = qemu_hw_info();
    info.idr[0] |= 1 << 10;
    let atc = cmd::atc_inv(0x42, None, 0, 0);
    let any = |_| true;

    let refused = SmmuCaps::decode(&info, HwCapabilities::PCI_ATS_NOT_SUPPORTED);
    assert!(
        !refused.ats,
        "IDR0.ATS with PCI_ATS_NOT_SUPPORTED decodes to no ATS"
    );
    let rules = CommandRules::new(&refused);
    for verdict in [
        rules.classify(atc.as_bytes(), any),
        classify(atc.as_bytes(), &refused, any),
    ] {
        match verdict {
            Err(CommandError::NeedsCapability { capability, .. }) => {
                assert!(capability.contains("ATS"), "{capability}")
            }
            other => panic!("ATC_INV without usable ATS: {other:?}"),
        }
    }

    // The other capability bits say nothing about ATS.
    let usable = SmmuCaps::decode(
        &info,
        HwCapabilities::DIRTY_TRACKING
            | HwCapabilities::PCI_PASID_EXEC
            | HwCapabilities::PCI_PASID_PRIV,
    );
    assert!(usable.ats, "IDR0.ATS without PCI_ATS_NOT_SUPPORTED is ATS");
    assert_eq!(usable, SmmuCaps::decode(&info, HwCapabilities::empty()));
    assert_eq!(
        CommandRules::new(&usable).classify(atc.as_bytes(), any),
        Ok(GuestCommand::Forward(atc))
    );
    // Without IDR0.ATS the flag changes nothing.
    assert!(!SmmuCaps::decode(&qemu_hw_info(), HwCapabilities::empty()).ats);
}

#[test]
fn ste_table_matches_the_kernel_rules() {
    for case in STES {
        let got = Ste::parse(&bytes(case.words));
        assert_eq!(got.is_ok(), case.accepted, "{}: {got:?}", case.name);
    }
}

#[test]
fn ste_errors_name_the_field() {
    assert_eq!(Ste::from_words([1 | (6 << 1), 0]), Err(SteError::Config(6)));
    assert_eq!(
        Ste::from_words([1 | (5 << 1), 2 << 28]),
        Err(SteError::Eats(2))
    );
    match Ste::from_words([1, 1 << 30]) {
        Err(SteError::Forbidden {
            word: 1,
            field: "STRW",
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    match Ste::from_words([1 | (1 << 55), 0]) {
        Err(SteError::Forbidden { word: 0, .. }) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(Ste::parse(&[0u8; 15]), Err(SteError::Length(15)));
    // V=0 is accepted and cleared: abort.
    let invalid = Ste::from_words([u64::MAX - 1, u64::MAX]).unwrap();
    assert_eq!((invalid.config(), invalid.words()), (Config::Abort, [0, 0]));
}

#[test]
fn ste_builder_matches_the_family_defaults() {
    use iommufd::arch::{DefaultStage1, Family};
    // V=1 with Config abort (0b000) and bypass (0b100), nothing else.
    assert_eq!(Ste::abort().words(), [1, 0]);
    assert_eq!(Ste::bypass().words(), [1 | (0b100 << 1), 0]);
    assert_eq!(
        Smmuv3::default_stage1(DefaultStage1::Abort),
        Some(Ste::abort())
    );
    assert_eq!(
        Smmuv3::default_stage1(DefaultStage1::Bypass),
        Some(Ste::bypass())
    );
    let data = Ste::bypass().hwpt_data();
    assert_eq!(
        data.as_bytes(),
        &[9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    );
    let ste = Ste::translate(0x10_000f_f000).unwrap().with_cd_attributes(
        Cacheability::WriteBackReadAllocate,
        Cacheability::WriteBackReadAllocate,
        Shareability::Inner,
    );
    assert_eq!(ste.words(), [0x10_000f_f000 | 1 | (5 << 1), 0xd4]);
    assert_eq!(ste.config(), Config::Translate);
    assert_eq!(ste.s1_context_ptr(), 0x10_000f_f000);
}

/// The highest CD table address S1ContextPtr holds: bits 51:6 all set.
const MAX_CD_TABLE: u64 = ((1 << 52) - 1) & !0x3f;

#[test]
fn ste_translate_refuses_what_s1_context_ptr_cannot_hold() {
    for bad in [
        (1 << 53) | 0x1000,
        (1 << 52) | 0x1000,
        0x1000 | 0x20,
        0x1001,
        MAX_CD_TABLE + 1,
        u64::MAX,
    ] {
        assert_eq!(Ste::translate(bad), Err(SteError::S1ContextPtr(bad)));
    }
    for good in [0, 0x40, 0x10_000f_f000, MAX_CD_TABLE] {
        let ste = Ste::translate(good).unwrap();
        let parsed = Ste::parse(ste.hwpt_data().as_bytes()).unwrap();
        assert_eq!((parsed, parsed.s1_context_ptr()), (ste, good), "{good:#x}");
        assert_eq!(parsed.config(), Config::Translate);
    }
}

#[test]
fn command_table_matches_the_kernel_rules_for_two_smmus() {
    for (caps_case, pick) in [(QEMU_CAPS, 0), (FULL, 1)] {
        let caps = caps(caps_case);
        for case in COMMANDS {
            let got = classify(&bytes(case.words), &caps, |sid| u64::from(sid) == VSID);
            let table = CommandRules::new(&caps);
            let fast = table.classify(&bytes(case.words), |sid| u64::from(sid) == VSID);
            assert_eq!(fast, got, "{}: CommandRules and classify", case.name);
            let want = if pick == 0 {
                case.on_qemu
            } else {
                case.on_full
            };
            assert_eq!(
                verdict(&got),
                want,
                "{} on {}: {got:?}",
                case.name,
                ["QEMU", "full"][pick]
            );
            if let Ok(GuestCommand::Forward(c)) = got {
                assert_eq!(c.as_bytes(), &bytes(case.words), "forwarded unchanged");
            }
        }
    }
}

#[test]
fn command_errors_name_the_field_or_capability() {
    let qemu = caps(QEMU_CAPS);
    let any = |_| true;
    assert_eq!(
        classify(&bytes([0x20, 0]), &qemu, any),
        Err(CommandError::Opcode(0x20))
    );
    // TLBI_NH_ALL has no ASID: bits 63:48 are RES0 there.
    match classify(&bytes([0x10 | (5 << 48), 0]), &qemu, any) {
        Err(CommandError::Forbidden {
            field: "reserved",
            word: 0,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    match classify(cmd::atc_inv(0x42, None, 0, 0).as_bytes(), &qemu, any) {
        Err(CommandError::NeedsCapability { capability, .. }) => {
            assert!(capability.contains("ATS"))
        }
        other => panic!("{other:?}"),
    }
    match classify(cmd::cfgi_cd(0x42, 1, false).as_bytes(), &qemu, any) {
        Err(CommandError::NeedsCapability { field: "SSID", .. }) => {}
        other => panic!("{other:?}"),
    }
    let mut no_range = qemu;
    no_range.range_invalidation = false;
    let range = cmd::TlbiRange {
        num: 1,
        scale: 0,
        tg: 1,
        ttl: 0,
    };
    match classify(
        cmd::tlbi_nh_va_range(1, 0x1000, false, range).as_bytes(),
        &no_range,
        any,
    ) {
        Err(CommandError::NeedsCapability {
            field: "NUM/SCALE", ..
        }) => {}
        other => panic!("{other:?}"),
    }
    let mut asid8 = qemu;
    asid8.asid_bits = 8;
    match classify(cmd::tlbi_nh_asid(0x1ff).as_bytes(), &asid8, any) {
        Err(CommandError::NeedsCapability {
            field: "ASID bits 15:8",
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(
        classify(cmd::cfgi_cd_all(0x7).as_bytes(), &qemu, |s| s == 0x42),
        Err(CommandError::UnknownStream {
            opcode: "CFGI_CD_ALL",
            stream: 7
        })
    );
    assert_eq!(
        classify(&[0u8; 8], &qemu, any),
        Err(CommandError::Length(8))
    );
}

#[test]
fn vmm_commands_say_what_to_reload() {
    let qemu = caps(QEMU_CAPS);
    let any = |_| true;
    assert_eq!(
        classify(cmd::sync().as_bytes(), &qemu, any),
        Ok(GuestCommand::Sync)
    );
    assert_eq!(
        classify(cmd::cfgi_ste(0x42, true).as_bytes(), &qemu, any),
        Ok(GuestCommand::ReloadStes(StreamSpan::Range {
            first: 0x42,
            count: 1
        }))
    );
    // CFGI_STE_RANGE with Range 3 covers 16 StreamIDs, aligned.
    assert_eq!(
        classify(&bytes([0x04 | (0x43 << 32), 3]), &qemu, any),
        Ok(GuestCommand::ReloadStes(StreamSpan::Range {
            first: 0x40,
            count: 16
        }))
    );
    assert_eq!(
        classify(&bytes([0x04, 31]), &qemu, any),
        Ok(GuestCommand::ReloadStes(StreamSpan::All))
    );
}

#[test]
fn a_translation_fault_record_decodes() {
    let mut record = IommuVeventArmSmmuv3::default();
    record.evt[0] = (0x10 | (0x42u64 << 32)).into();
    record.evt[1] = (1u64 << 35).into();
    record.evt[2] = 0x4020_0000u64.into();
    let e = Event::decode(&record);
    assert_eq!(
        (e.id, e.stream_id, e.read, e.input_address),
        (EventId::Translation, 0x42, true, 0x4020_0000)
    );
    assert_eq!(e.substream_id, None);
}

fn cache() -> impl Strategy<Value = Cacheability> {
    prop_oneof![
        Just(Cacheability::NonCacheable),
        Just(Cacheability::WriteBackReadAllocate),
        Just(Cacheability::WriteThrough),
        Just(Cacheability::WriteBack)
    ]
}

fn share() -> impl Strategy<Value = Shareability> {
    prop_oneof![
        Just(Shareability::NonShareable),
        Just(Shareability::Outer),
        Just(Shareability::Inner),
        Just(Shareability::Reserved)
    ]
}

proptest! {
    #[test]
    fn built_stes_parse_back(
        cd in any::<u64>().prop_map(|cd| cd & MAX_CD_TABLE), s1fmt in 0u8..4, cdmax in 0u8..32, dss in 0u8..4,
        inner in cache(), outer in cache(), sh in share(), stalld: bool, eats: bool,
    ) {
        let ste = Ste::translate(cd).unwrap().with_s1fmt(s1fmt).with_s1cdmax(cdmax).with_s1dss(dss)
            .with_cd_attributes(inner, outer, sh).with_s1stalld(stalld).with_eats(eats);
        let parsed = Ste::parse(ste.hwpt_data().as_bytes()).unwrap();
        prop_assert_eq!(parsed, ste);
        prop_assert_eq!(parsed.config(), Config::Translate);
    }

    #[test]
    fn the_ste_builder_refuses_or_builds_what_the_parser_takes_back(cd: u64) {
        match Ste::translate(cd) {
            Ok(ste) => {
                let parsed = Ste::parse(ste.hwpt_data().as_bytes()).unwrap();
                prop_assert_eq!(parsed.s1_context_ptr(), cd);
                prop_assert_eq!(parsed, ste);
            }
            Err(e) => {
                prop_assert_eq!(e, SteError::S1ContextPtr(cd));
                prop_assert!(cd & !MAX_CD_TABLE != 0);
            }
        }
    }

    #[test]
    fn no_bytes_make_a_parser_panic(raw in proptest::collection::vec(any::<u8>(), 0..48)) {
        let _ = Ste::parse(&raw);
        for c in [QEMU_CAPS, FULL] {
            let caps = caps(c);
            if let Ok(GuestCommand::Forward(f)) = classify(&raw, &caps, |s| s % 2 == 0) {
                // What is forwarded is the guest's command, unchanged.
                prop_assert_eq!(f.as_bytes(), &raw[..16]);
            }
        }
        if let Ok((record, _)) = IommuVeventArmSmmuv3::read_from_prefix(&raw) {
            let e = Event::decode(&record);
            prop_assert_eq!(e.raw[0] & 0xff, u64::from(match e.id { EventId::Other(x) => x, _ => (e.raw[0] & 0xff) as u8 }));
        }
        if let Ok((info, _)) = IommuHwInfoArmSmmuv3::read_from_prefix(&raw) {
            let c = SmmuCaps::decode(&info, HwCapabilities::empty());
            prop_assert!(c.asid_bits == 8 || c.asid_bits == 16);
            // An SMMU fits itself, except that nesting needs stage 2.
            let gaps: Vec<_> = c.mismatches(&c).iter().map(|m| m.what).collect();
            prop_assert_eq!(gaps.is_empty(), c.stages.stage2, "{:?}", gaps);
        }
    }

    #[test]
    fn accepted_stes_keep_their_words_and_rejected_ones_say_why(w0: u64, w1: u64) {
        match Ste::from_words([w0, w1]) {
            Ok(ste) if w0 & 1 == 1 => prop_assert_eq!(ste.words(), [w0, w1]),
            Ok(ste) => prop_assert_eq!(ste.words(), [0, 0]),
            Err(e) => prop_assert!(!e.to_string().is_empty()),
        }
    }

    #[test]
    fn constructed_commands_are_forwarded_on_a_full_smmu(asid: u16, addr: u64, leaf: bool, sid: u32, ssid in 0u32..(1 << 20)) {
        let full = caps(FULL);
        let any = |_| true;
        for c in [
            cmd::tlbi_nh_all(), cmd::tlbi_nh_asid(asid), cmd::tlbi_nh_va(asid, addr, leaf), cmd::tlbi_nh_vaa(addr, leaf),
            cmd::tlbi_nsnh_all(), cmd::cfgi_cd(sid, ssid, leaf), cmd::cfgi_cd_all(sid),
            cmd::atc_inv(sid, Some(ssid), addr, 12),
        ] {
            let got = classify(c.as_bytes(), &full, any);
            prop_assert_eq!(got, Ok(GuestCommand::Forward(c)));
        }
    }
}

/// Every combination of the capabilities the command rules depend on.
fn every_caps() -> impl Iterator<Item = SmmuCaps> {
    (0..32u8).map(|bits| {
        caps(CaseCaps {
            asid16: bits & 1 != 0,
            range: bits & 2 != 0,
            ds: bits & 4 != 0,
            ats: bits & 8 != 0,
            ssid: bits & 16 != 0,
        })
    })
}

/// Opcodes worth hitting often: every one the SMMUv3 defines, and neighbours.
const OPCODES: [u8; 16] = [
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x10, 0x11, 0x12, 0x13, 0x20, 0x30, 0x40, 0x46, 0x80,
];

/// A word with each bit set with probability 1/8, or all bits, or none: legal
/// commands have few bits set, illegal ones any.
fn sparse_word() -> impl Strategy<Value = u64> {
    prop_oneof![
        (any::<u64>(), any::<u64>(), any::<u64>()).prop_map(|(a, b, c)| a & b & c),
        any::<u64>(),
        Just(0u64),
    ]
}

/// A command shaped like a TLBI: opcode, ASID, VMID, range fields, address and
/// leaf, then maybe one stray bit anywhere.
fn tlbi_shaped() -> impl Strategy<Value = [u64; 2]> {
    (
        proptest::sample::select(&OPCODES[..]),
        (any::<u16>(), any::<u16>(), 0u64..32, 0u64..64),
        (any::<u64>(), any::<bool>(), 0u64..4, 0u64..4),
        proptest::option::weighted(0.25, 0u32..128),
    )
        .prop_map(
            |(op, (asid, vmid, num, scale), (addr, leaf, tg, ttl), stray)| {
                let mut w = [
                    u64::from(op)
                        | (num << 12)
                        | (scale << 20)
                        | (u64::from(vmid) << 32)
                        | (u64::from(asid) << 48),
                    (addr & !0xfff) | u64::from(leaf) | (tg << 10) | (ttl << 8),
                ];
                if let Some(bit) = stray {
                    w[(bit / 64) as usize] ^= 1 << (bit % 64);
                }
                w
            },
        )
}

proptest! {
    #[test]
    fn command_rules_agree_with_classify_on_every_smmu(
        words in prop_oneof![
            tlbi_shaped(),
            (proptest::sample::select(&OPCODES[..]), sparse_word(), sparse_word())
                .prop_map(|(op, w0, w1)| [(w0 & !0xff) | u64::from(op), w1]),
            (any::<u64>(), any::<u64>()).prop_map(|(w0, w1)| [w0, w1]),
        ],
    ) {
        let raw = bytes(words);
        for caps in every_caps() {
            let rules = CommandRules::new(&caps);
            let has = |sid: u32| sid % 3 == 0;
            prop_assert_eq!(rules.classify(&raw, has), classify(&raw, &caps, has), "{:?}", caps);
        }
    }

    #[test]
    fn command_rules_agree_with_classify_on_short_and_long_input(
        raw in proptest::collection::vec(any::<u8>(), 0..40),
    ) {
        for caps in every_caps() {
            let rules = CommandRules::new(&caps);
            prop_assert_eq!(rules.classify(&raw, |_| true), classify(&raw, &caps, |_| true));
        }
    }
}

#[test]
fn command_rules_forward_every_legal_range_form_and_refuse_the_reserved_ones() {
    // Every (NUM 0 or 1, TG, TTL) of a TLBI_NH_VA on every SMMU: the table and the
    // reference agree. Without RIL only the plain form passes; with it, TG 0 only
    // plain, and TG 1..3 with a range or a TTL (TTL 1 at 16 KiB needs DS).
    for caps in every_caps() {
        let rules = CommandRules::new(&caps);
        let mut forwarded = 0;
        for (num, tg, ttl) in
            (0..2u8).flat_map(|n| (0..4u8).flat_map(move |g| (0..4u8).map(move |t| (n, g, t))))
        {
            let range = cmd::TlbiRange {
                num,
                scale: 0,
                tg,
                ttl,
            };
            let c = cmd::tlbi_nh_va_range(1, 0x1000, true, range);
            let want = classify(c.as_bytes(), &caps, |_| true);
            assert_eq!(
                rules.classify(c.as_bytes(), |_| true),
                want,
                "{range:?} on {caps:?}"
            );
            forwarded += usize::from(want.is_ok());
        }
        let want = match (caps.range_invalidation, caps.ds) {
            (false, _) => 1,
            (true, true) => 1 + 3 * (3 + 4),
            (true, false) => 1 + 3 * (3 + 4) - 2,
        };
        assert_eq!(forwarded, want, "{caps:?}");
    }
}

/// A command field: name, word, mask.
type SpecField = (&'static str, usize, u64);

/// The fields of each forwarded opcode, from the SMMUv3 spec's command layouts (IHI
/// 0070, section 4), written out here independently of the crate: (name, word,
/// mask). Every other bit of the opcode is RES0.
const LAYOUTS: &[(u8, &[SpecField])] = &[
    (
        cmd::opcode::TLBI_NH_VA,
        &[
            ("NUM", 0, 0x1f << 12),
            ("SCALE", 0, 0x3f << 20),
            ("VMID", 0, 0xffff << 32),
            ("ASID", 0, 0xffff << 48),
            ("Leaf", 1, 1),
            ("TTL", 1, 0b11 << 8),
            ("TG", 1, 0b11 << 10),
            ("Address", 1, !0xfff),
        ],
    ),
    (
        cmd::opcode::TLBI_NH_VAA,
        &[
            ("NUM", 0, 0x1f << 12),
            ("SCALE", 0, 0x3f << 20),
            ("VMID", 0, 0xffff << 32),
            ("Leaf", 1, 1),
            ("TTL", 1, 0b11 << 8),
            ("TG", 1, 0b11 << 10),
            ("Address", 1, !0xfff),
        ],
    ),
    (
        cmd::opcode::TLBI_NH_ASID,
        &[("VMID", 0, 0xffff << 32), ("ASID", 0, 0xffff << 48)],
    ),
    (cmd::opcode::TLBI_NH_ALL, &[("VMID", 0, 0xffff << 32)]),
    (cmd::opcode::TLBI_NSNH_ALL, &[]),
    (
        cmd::opcode::ATC_INV,
        &[
            ("Global", 0, 1 << 9),
            ("SSV", 0, 1 << 11),
            ("SSID", 0, 0xf_ffff << 12),
            ("SID", 0, 0xffff_ffff << 32),
            ("Size", 1, 0x3f),
            ("Address", 1, !0xfff),
        ],
    ),
    (
        cmd::opcode::CFGI_CD,
        &[
            ("SSID", 0, 0xf_ffff << 12),
            ("SID", 0, 0xffff_ffff << 32),
            ("Leaf", 1, 1),
        ],
    ),
    (cmd::opcode::CFGI_CD_ALL, &[("SID", 0, 0xffff_ffff << 32)]),
];

#[test]
fn every_refused_bit_is_named_after_a_field_of_its_own_opcode() {
    let any = |_| true;
    let mut forbidden_seen = 0;
    for caps in every_caps() {
        let rules = CommandRules::new(&caps);
        for &(op, layout) in LAYOUTS {
            let base = [u64::from(op), 0];
            if classify(&bytes(base), &caps, any).is_err() {
                // The opcode itself needs a capability (ATC_INV without ATS).
                continue;
            }
            for bit in 8..128 {
                let (word, mask) = (bit / 64, 1u64 << (bit % 64));
                let mut w = base;
                w[word] |= mask;
                let got = classify(&bytes(w), &caps, any);
                assert_eq!(rules.classify(&bytes(w), any), got, "{op:#x} bit {bit}");
                let own = layout
                    .iter()
                    .find(|&&(_, fw, fm)| fw == word && fm & mask != 0)
                    .map(|&(name, _, _)| name);
                match got {
                    Ok(_) => assert!(own.is_some(), "{op:#x}: RES0 bit {bit} accepted"),
                    Err(CommandError::Forbidden {
                        field,
                        word: w_at,
                        bits,
                        ..
                    }) => {
                        forbidden_seen += 1;
                        assert_eq!(
                            (field, usize::from(w_at), bits),
                            (own.unwrap_or("reserved"), word, mask),
                            "{op:#x} bit {bit} on {caps:?}"
                        );
                    }
                    // A capability or a range rule refuses only bits of real fields.
                    Err(CommandError::NeedsCapability { .. } | CommandError::Range { .. }) => {
                        assert!(own.is_some(), "{op:#x} bit {bit}: {got:?}")
                    }
                    Err(e) => panic!("{op:#x} bit {bit}: {e:?}"),
                }
            }
        }
    }
    assert!(forbidden_seen > 0);
}

#[test]
fn command_errors_name_reserved_bits_as_reserved() {
    let full = caps(FULL);
    let any = |_| true;
    // TLBI_NH_ALL has no SSID: bit 12 is RES0 there.
    let all = cmd::tlbi_nh_all().cmd[0].get() | (1 << 12);
    // CFGI_CD has no Address: word 1 bit 12 is RES0.
    let cfgi = cmd::cfgi_cd(0x42, 1, false);
    // ATC_INV has no TTL: word 1 bit 8 is RES0.
    let atc = cmd::atc_inv(0x42, None, 0, 0);
    for (name, w, word, bit) in [
        ("TLBI_NH_ALL", [all, 0], 0, 1 << 12),
        ("CFGI_CD", [cfgi.cmd[0].get(), 1 << 12], 1, 1 << 12),
        ("ATC_INV", [atc.cmd[0].get(), 1 << 8], 1, 1 << 8),
    ] {
        assert_eq!(
            classify(&bytes(w), &full, any),
            Err(CommandError::Forbidden {
                opcode: name,
                field: "reserved",
                word,
                bits: bit,
            })
        );
    }
}

#[test]
fn a_parsed_ste_says_what_the_guest_asks_of_its_device() {
    use iommufd::arch::DefaultStage1;
    use iommufd::states::GuestStage1;
    let of = |words| GuestStage1::<Smmuv3>::from(Ste::from_words(words).unwrap());
    assert_eq!(of([0, 0]), GuestStage1::Default(DefaultStage1::Abort)); // V=0
    assert_eq!(of([1, 0]), GuestStage1::Default(DefaultStage1::Abort));
    assert_eq!(of([9, 0]), GuestStage1::Default(DefaultStage1::Bypass));
    let translate = Ste::translate(0x8000_0000).unwrap();
    assert_eq!(
        GuestStage1::<Smmuv3>::from(translate),
        GuestStage1::Translate(translate)
    );
    // Tegra241 CMDQV takes SMMUv3 STEs the same way.
    assert_eq!(
        GuestStage1::<iommufd::arch::Tegra241Cmdqv>::from(translate),
        GuestStage1::Translate(translate)
    );
}
