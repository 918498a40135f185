// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Intel VT-d payloads against Linux 7.3's intel driver: every accept and refuse of
//! `intel_pasid_setup_nested` (the stage 1) and `intel_nested_cache_invalidate_user`
//! (each invalidation entry), as tables and as a property against a line-by-line
//! transcription of the C, plus the CAP/ECAP decode and the compatibility check.

use iommufd::arch::Stage1Config;
use iommufd::arch::vtd::{
    AddressWidth, VtdCaps, VtdInvalidation, VtdInvalidationError, VtdStage1, VtdStage1Error,
};
use iommufd::uapi::{IommuHwInfoVtd, IommuHwptVtdS1, IommuHwptVtdS1Invalidate, VtdS1Flags};
use proptest::prelude::*;
use rustix::io::Errno;
use zerocopy::IntoBytes;

const SMTS: u64 = 1 << 43;
const NEST: u64 = 1 << 26;
const FLTS: u64 = 1 << 47;
const SLTS: u64 = 1 << 46;
const SRS: u64 = 1 << 31;
const EAFS: u64 = 1 << 34;
const FL5LP: u64 = 1 << 60;

fn caps(cap: u64, ecap: u64) -> VtdCaps {
    VtdCaps::decode(&IommuHwInfoVtd {
        flags: 0,
        __reserved: 0,
        cap_reg: cap,
        ecap_reg: ecap,
    })
}

/// A nesting unit with everything the stage 1 can ask for.
fn full() -> VtdCaps {
    caps(FL5LP, SMTS | NEST | FLTS | SLTS | SRS | EAFS)
}

/// A nesting unit with none of the optional stage-1 features.
fn bare() -> VtdCaps {
    caps(0, SMTS | NEST | FLTS | SLTS)
}

fn s1(flags: u64, addr: u64, width: u32, reserved: u32) -> Vec<u8> {
    IommuHwptVtdS1 {
        flags,
        pgtbl_addr: addr,
        addr_width: width,
        __reserved: reserved,
    }
    .as_bytes()
    .to_vec()
}

/// `intel_pasid_setup_nested`'s checks, transcribed: `Some(errno)` for a refusal.
fn kernel_attach(data: &IommuHwptVtdS1, cap: u64, ecap: u64) -> Option<Errno> {
    match data.addr_width {
        48 => {}
        57 if cap & FL5LP != 0 => {}
        _ => return Some(Errno::INVAL),
    }
    if data.flags & 1 != 0 && ecap & SRS == 0 {
        return Some(Errno::INVAL);
    }
    if data.flags & 2 != 0 && ecap & EAFS == 0 {
        return Some(Errno::INVAL);
    }
    None
}

/// `intel_nested_cache_invalidate_user`'s per-entry checks, transcribed.
fn kernel_entry(e: &IommuHwptVtdS1Invalidate) -> Option<Errno> {
    if e.flags & !1 != 0 || e.__reserved != 0 {
        return Some(Errno::OPNOTSUPP);
    }
    if e.addr & 0xfff != 0 || (e.npages == u64::MAX && e.addr != 0) {
        return Some(Errno::INVAL);
    }
    None
}

#[test]
fn the_stage1_table_is_the_attach_s_refusals() {
    use VtdStage1Error::*;
    let rows: &[(Vec<u8>, VtdCaps, Result<(), VtdStage1Error>)] = &[
        (s1(0, 0x1000, 48, 0), bare(), Ok(())),
        (s1(0, 0x1000, 57, 0), full(), Ok(())),
        (s1(0, 0x1000, 57, 0), bare(), Err(FiveLevel)),
        (s1(0, 0x1000, 39, 0), full(), Err(AddressWidth(39))),
        (s1(0, 0x1000, 0, 0), full(), Err(AddressWidth(0))),
        (s1(1, 0x1000, 48, 0), full(), Ok(())),
        (s1(1, 0x1000, 48, 0), bare(), Err(SupervisorRequests)),
        (s1(2, 0x1000, 48, 0), full(), Ok(())),
        (s1(2, 0x1000, 48, 0), bare(), Err(ExtendedAccessFlag)),
        // The width is checked first, then SRE, then EAFE.
        (s1(3, 0x1000, 40, 0), bare(), Err(AddressWidth(40))),
        (s1(3, 0x1000, 48, 0), bare(), Err(SupervisorRequests)),
        // What the driver ignores: WPE without SRE, unknown flags, __reserved,
        // the low 12 bits of the table address.
        (s1(4, 0x1000, 48, 0), bare(), Ok(())),
        (s1(1 << 40, 0x1000, 48, 0), bare(), Ok(())),
        (s1(0, 0x1000, 48, 0xdead), bare(), Ok(())),
        (s1(0, 0x1234, 48, 0), bare(), Ok(())),
        (vec![0; 23], full(), Err(Length(23))),
    ];
    for (bytes, caps, want) in rows {
        let got = VtdStage1::parse(bytes, caps).map(drop);
        assert_eq!(&got, want, "{bytes:x?}");
    }
}

#[test]
fn a_parsed_stage1_is_sent_as_it_came() {
    let bytes = s1(4 | (1 << 9), 0x8000_0123, 48, 7);
    let parsed = VtdStage1::parse(&bytes, &bare()).unwrap();
    assert_eq!(parsed.hwpt_data().as_bytes(), &bytes[..]);
    assert_eq!(parsed.address_width(), AddressWidth::FourLevel);
    assert_eq!(parsed.pgtbl_addr(), 0x8000_0123);
    // A longer buffer's tail is not read.
    let mut long = bytes.clone();
    long.extend_from_slice(&[0xff; 8]);
    assert_eq!(VtdStage1::parse(&long, &bare()).unwrap(), parsed);
}

#[test]
fn invalidation_entries_are_the_driver_s_refusals_with_its_errno() {
    use VtdInvalidationError::*;
    let e = |addr, npages, flags, reserved| IommuHwptVtdS1Invalidate {
        addr,
        npages,
        flags,
        __reserved: reserved,
    };
    let rows = [
        (e(0, 1, 0, 0), Ok(())),
        (e(0x1000, 8, 1, 0), Ok(())),
        (e(0, u64::MAX, 0, 0), Ok(())),
        (e(0, 0, 0, 0), Ok(())),
        (e(0, 1, 2, 0), Err(Flags(2))),
        (e(0, 1, 0, 1), Err(Reserved(1))),
        // Flags before alignment: an unaligned entry with a bad flag is EOPNOTSUPP.
        (e(0x1001, 1, 4, 0), Err(Flags(4))),
        (e(0x1001, 1, 0, 0), Err(Unaligned(0x1001))),
        (e(0x1000, u64::MAX, 0, 0), Err(AllFromNonZero(0x1000))),
    ];
    for (entry, want) in rows {
        let got = VtdInvalidation::check(entry).map(drop);
        assert_eq!(got, want, "{entry:?}");
        assert_eq!(got.err().map(|e| e.errno()), kernel_entry(&entry));
        assert_eq!(VtdInvalidation::parse(entry.as_bytes()).map(drop), want);
    }
    assert_eq!(VtdInvalidation::parse(&[0; 8]), Err(Length(8)));
    assert_eq!(VtdInvalidation::all().entry().npages, u64::MAX);
    assert_eq!(
        VtdInvalidation::range(0x2000, 3, true)
            .unwrap()
            .entry()
            .flags,
        1
    );
    assert_eq!(
        VtdInvalidation::range(0x2000, u64::MAX, false),
        Err(AllFromNonZero(0x2000))
    );
}

#[test]
fn caps_decode_the_bits_nesting_depends_on() {
    let info = IommuHwInfoVtd {
        flags: 1,
        __reserved: 0,
        // MGAW 48 (47 + 1), SAGAW 4-level, FL1GP, FL5LP, CM, PSI.
        cap_reg: (47 << 16) | (0b100 << 8) | (1 << 56) | FL5LP | (1 << 7) | (1 << 39),
        // SMTS, NEST, FLTS, SLTS, PASID with PSS 19 (20 bits), SRS, EAFS, PRS, DT, SLADS, C.
        ecap_reg: SMTS
            | NEST
            | FLTS
            | SLTS
            | (1 << 40)
            | (19 << 35)
            | SRS
            | EAFS
            | (1 << 29)
            | (1 << 2)
            | (1 << 45)
            | 1,
    };
    let c = VtdCaps::decode(&info);
    assert!(c.can_nest() && c.first_stage && c.second_stage);
    assert!(c.first_stage_5level && c.first_stage_1g && c.caching_mode);
    assert!(c.page_selective_invalidation && c.coherent && c.device_tlb);
    assert_eq!((c.guest_address_bits, c.second_stage_levels), (48, 0b100));
    assert_eq!((c.pasid, c.pasid_bits), (true, 20));
    assert!(c.supervisor_requests && c.extended_access_flag && c.page_requests);
    assert!(c.second_stage_dirty && c.errata_772415);
    let none = VtdCaps::decode(&IommuHwInfoVtd::default());
    assert!(!none.can_nest() && !none.pasid && none.pasid_bits == 0);
    assert_eq!(none.guest_address_bits, 1);
    // Scalable mode without NEST, or NEST without scalable mode, does not nest.
    assert!(!caps(0, SMTS).can_nest() && !caps(0, NEST).can_nest());
}

#[test]
fn a_guest_fits_its_host_and_a_greedier_one_is_named() {
    let host = full();
    assert_eq!(host.mismatches(&VtdCaps::for_guest(&host)), vec![]);
    let guest = VtdCaps::for_guest(&host);
    let gaps = bare().mismatches(&guest);
    let names: Vec<_> = gaps.iter().map(|m| m.what).collect();
    assert_eq!(
        names,
        [
            "5-level first stage",
            "supervisor requests",
            "extended access flag"
        ]
    );
    // A host that cannot nest refuses every guest.
    let flat = caps(0, FLTS);
    assert!(
        flat.mismatches(&VtdCaps::for_guest(&flat))
            .iter()
            .any(|m| m.what == "scalable-mode nesting")
    );
    let mut wide = VtdCaps::for_guest(&host);
    wide.pasid_bits = host.pasid_bits + 1;
    assert_eq!(host.mismatches(&wide)[0].what, "PASID bits");
}

fn stage1_words() -> impl Strategy<Value = IommuHwptVtdS1> {
    (
        prop_oneof![Just(0u64), 0u64..8, any::<u64>()],
        any::<u64>(),
        prop_oneof![Just(48u32), Just(57), any::<u32>()],
        prop_oneof![Just(0u32), any::<u32>()],
    )
        .prop_map(|(flags, addr, width, reserved)| IommuHwptVtdS1 {
            flags,
            pgtbl_addr: addr,
            addr_width: width,
            __reserved: reserved,
        })
}

proptest! {
    #[test]
    fn the_stage1_parser_agrees_with_the_driver(
        data in stage1_words(),
        cap in prop_oneof![Just(0u64), Just(FL5LP), any::<u64>()],
        ecap in prop_oneof![Just(SRS | EAFS), Just(0u64), any::<u64>()],
    ) {
        let c = caps(cap, ecap);
        let ours = VtdStage1::parse(data.as_bytes(), &c);
        prop_assert_eq!(ours.is_err(), kernel_attach(&data, cap, ecap).is_some());
        if let Ok(s1) = ours {
            prop_assert_eq!(s1.hwpt_data(), data);
            let rebuilt = VtdStage1::new(
                s1.pgtbl_addr(), s1.address_width(), VtdS1Flags::from_bits_retain(data.flags), &c,
            );
            prop_assert_eq!(rebuilt.map(|s| s.hwpt_data().pgtbl_addr), Ok(data.pgtbl_addr));
        }
    }

    #[test]
    fn the_invalidation_parser_agrees_with_the_driver(
        addr in prop_oneof![Just(0u64), any::<u64>().prop_map(|a| a & !0xfff), any::<u64>()],
        npages in prop_oneof![Just(u64::MAX), any::<u64>()],
        flags in prop_oneof![0u32..2, any::<u32>()],
        reserved in prop_oneof![Just(0u32), any::<u32>()],
    ) {
        let entry = IommuHwptVtdS1Invalidate { addr, npages, flags, __reserved: reserved };
        let ours = VtdInvalidation::check(entry);
        prop_assert_eq!(ours.err().map(|e| e.errno()), kernel_entry(&entry));
        if let Ok(ok) = ours {
            prop_assert_eq!(*ok.entry(), entry);
        }
    }

    #[test]
    fn the_parsers_never_panic_on_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..48)) {
        let _ = VtdStage1::parse(&bytes, &full());
        let _ = VtdInvalidation::parse(&bytes);
        let _ = VtdCaps::decode(&IommuHwInfoVtd {
            cap_reg: bytes.iter().fold(0, |a, b| a.rotate_left(8) ^ u64::from(*b)),
            ..Default::default()
        });
    }

    #[test]
    fn for_guest_always_fits_a_nesting_host(cap: u64, ecap: u64) {
        let host = caps(cap, ecap | SMTS | NEST);
        prop_assert_eq!(host.mismatches(&VtdCaps::for_guest(&host)), vec![]);
    }
}
