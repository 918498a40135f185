// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! AMD payloads against Linux 7.3's driver: the guest DTE against
//! `validate_gdte_nested` (a table and a property against a transcription of the
//! C), the EFR/EFR2 decode and the compatibility check.

use iommufd::arch::Stage1Config;
use iommufd::arch::amd::{AmdCaps, AmdGuestDte, AmdGuestDteError, GuestPagingLevels};
use iommufd::uapi::{IommuHwInfoAmd, IommuHwptAmdGuest};
use proptest::prelude::*;
use rustix::io::Errno;
use zerocopy::IntoBytes;

const GT: u64 = 1 << 4;
const GATS_5: u64 = 1 << 12;

fn host(efr: u64) -> AmdCaps {
    AmdCaps::decode(&IommuHwInfoAmd { efr, efr2: 0 })
}

/// `validate_gdte_nested`, transcribed from the 7.3 source with its masks.
fn kernel(dte: &[u64; 4], host_5level: bool) -> Option<Errno> {
    let field = |w: u64, hi: u32, lo: u32| (w >> lo) & ((1u64 << (hi - lo + 1)) - 1);
    let level = field(dte[2], 55, 54);
    if field(dte[0], 11, 9) != 0 || field(dte[0], 51, 12) != 0 {
        return Some(Errno::INVAL);
    }
    if field(dte[0], 0, 0) == 1
        && field(dte[0], 55, 55) == 1
        && field(dte[0], 60, 58) == 0
        && field(dte[1], 31, 16) == 0
        && field(dte[1], 63, 43) == 0
    {
        return Some(Errno::INVAL);
    }
    if level != 0 && level != 1 {
        return Some(Errno::INVAL);
    }
    if field(dte[0], 57, 56) == 3 {
        return Some(Errno::INVAL);
    }
    if level == 1 && !host_5level {
        return Some(Errno::OPNOTSUPP);
    }
    None
}

fn bytes(dte: [u64; 4]) -> Vec<u8> {
    IommuHwptAmdGuest { dte }.as_bytes().to_vec()
}

#[test]
fn the_guest_dte_table_is_validate_gdte_nested() {
    use AmdGuestDteError::*;
    const V_GV: u64 = 1 | (1 << 55);
    let gcr3_lo = 1u64 << 58; // GCR3 root bit 12
    let rows: &[([u64; 4], u64, Result<(), AmdGuestDteError>)] = &[
        ([V_GV | gcr3_lo, 0, 0, 0], GT, Ok(())),
        ([V_GV, 1 << 16, 0, 0], GT, Ok(())),
        ([V_GV, 1 << 43, 0, 0], GT, Ok(())),
        ([V_GV, 0, 0, 0], GT, Err(NoGcr3Table)),
        // V alone, or GV alone, may have no table.
        ([1, 0, 0, 0], GT, Ok(())),
        ([1 << 55, 0, 0, 0], GT, Ok(())),
        (
            [V_GV | gcr3_lo | (1 << 9), 0, 0, 0],
            GT,
            Err(HostFields(1 << 9)),
        ),
        (
            [V_GV | gcr3_lo | (1 << 12), 0, 0, 0],
            GT,
            Err(HostFields(1 << 12)),
        ),
        ([V_GV | gcr3_lo, 0, 2 << 54, 0], GT, Err(PagingMode(2))),
        ([V_GV | gcr3_lo, 0, 3 << 54, 0], GT, Err(PagingMode(3))),
        ([V_GV | gcr3_lo | (3 << 56), 0, 0, 0], GT, Err(Glx)),
        ([V_GV | gcr3_lo | (2 << 56), 0, 0, 0], GT, Ok(())),
        ([V_GV | gcr3_lo, 0, 1 << 54, 0], GT, Err(FiveLevel)),
        ([V_GV | gcr3_lo, 0, 1 << 54, 0], GT | GATS_5, Ok(())),
        // Host fields are checked before the table root.
        ([V_GV | (1 << 10), 0, 0, 0], GT, Err(HostFields(1 << 10))),
        // Ignored: word 3, the rest of word 2, interrupt and IOTLB bits of word 1.
        ([V_GV | gcr3_lo, 0xffff << 32, 0xff, u64::MAX], GT, Ok(())),
    ];
    for (dte, efr, want) in rows {
        let got = AmdGuestDte::parse(&bytes(*dte), &host(*efr)).map(drop);
        assert_eq!(&got, want, "{dte:x?}");
        assert_eq!(got.err().map(|e| e.errno()), kernel(dte, efr & GATS_5 != 0));
    }
    assert_eq!(AmdGuestDte::parse(&[0; 31], &host(GT)), Err(Length(31)));
}

#[test]
fn a_built_dte_reads_back_its_fields() {
    let h = host(GT | GATS_5);
    let table = 0x000f_ffff_ffff_f000;
    let dte = AmdGuestDte::translate(table, 0xbeef, GuestPagingLevels::Five, &h).unwrap();
    assert_eq!(dte.gcr3_table(), table);
    assert_eq!(dte.domain_id(), 0xbeef);
    assert_eq!(dte.levels(), GuestPagingLevels::Five);
    assert_eq!(
        (dte.glx(), dte.ppr(), dte.guest_io_protection()),
        (0, false, false)
    );
    assert_eq!(AmdGuestDte::parse(dte.hwpt_data().as_bytes(), &h), Ok(dte));
    assert_eq!(
        AmdGuestDte::translate(0xfff, 1, GuestPagingLevels::Four, &h),
        Err(AmdGuestDteError::NoGcr3Table)
    );
}

#[test]
fn caps_decode_efr_and_efr2() {
    let efr = GT | (1 << 1) | GATS_5 | (2 << 10) | (2 << 14) | (15 << 32) | (1 << 48) | (1 << 52);
    let c = AmdCaps::decode(&IommuHwInfoAmd { efr, efr2: 1 << 3 });
    assert!(c.guest_translation && c.ppr && c.guest_io_protection && c.host_dirty);
    assert_eq!((c.guest_levels, c.host_levels, c.gcr3_levels), (5, 6, 3));
    assert_eq!(c.pasid_bits, 16);
    assert!(c.gcr3_trp_mode && !c.snp);
    let guest = AmdCaps::for_guest(&c);
    assert!(!guest.ppr && !guest.host_dirty);
    assert_eq!(c.mismatches(&guest), vec![]);
    // A host without GT cannot nest; a 4-level host cannot back a 5-level guest.
    let names = |h: AmdCaps| {
        h.mismatches(&guest)
            .iter()
            .map(|m| m.what)
            .collect::<Vec<_>>()
    };
    assert_eq!(names(host(0))[0], "guest translation (for nesting)");
    assert!(names(host(GT | (2 << 14) | (15 << 32) | (1 << 48))).contains(&"guest table levels"));
}

proptest! {
    #[test]
    fn the_dte_parser_agrees_with_the_driver(
        w0 in prop_oneof![any::<u64>(), any::<u64>().prop_map(|w| w & !0x000f_ffff_ffff_fe00)],
        w1: u64,
        w2 in prop_oneof![any::<u64>(), (0u64..4).prop_map(|l| l << 54)],
        w3: u64,
        five: bool,
    ) {
        let dte = [w0, w1, w2, w3];
        let efr = GT | if five { GATS_5 } else { 0 };
        let ours = AmdGuestDte::parse(&bytes(dte), &host(efr));
        prop_assert_eq!(ours.err().map(|e| e.errno()), kernel(&dte, five));
        if let Ok(ok) = ours {
            prop_assert_eq!(ok.words(), dte);
        }
    }

    #[test]
    fn translate_round_trips(table: u64, dom: u16, five: bool) {
        let h = host(GT | GATS_5);
        let levels = if five { GuestPagingLevels::Five } else { GuestPagingLevels::Four };
        let table = table & 0x000f_ffff_ffff_f000;
        match AmdGuestDte::translate(table, dom, levels, &h) {
            Ok(dte) => {
                prop_assert_eq!(dte.gcr3_table(), table);
                prop_assert_eq!(dte.domain_id(), dom);
                prop_assert_eq!(dte.levels(), levels);
            }
            Err(e) => prop_assert_eq!((e, table), (AmdGuestDteError::NoGcr3Table, 0)),
        }
    }

    #[test]
    fn the_parser_never_panics(raw in proptest::collection::vec(any::<u8>(), 0..40), efr: u64) {
        let _ = AmdGuestDte::parse(&raw, &host(efr));
    }
}
