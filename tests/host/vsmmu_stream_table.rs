// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The guest's Stream table: linear and 2-level lookups in guest memory, every
//! error with the event it owes the guest, the SPAN/SPLIT/LOG2SIZE edge cases, and
//! no panic whatever the registers and memory hold.

use crate::alloc_count::allocations;
use crate::smmuv3::tables;
use crate::vsmmu_ram::Ram;
use iommufd::arch::smmuv3::{Config, EventId, Ste, SteError};
use iommufd::vsmmu::{BadStreamId, GuestMemory, LookupError, StreamTable, StreamTableFormat};
use proptest::prelude::*;

const RAM: u64 = 0x4000_0000;
const CD: u64 = 0x4010_0000;

/// SMMU_STRTAB_BASE_CFG from its fields.
const fn cfg(fmt: u32, split: u32, log2size: u32) -> u32 {
    (fmt << 16) | (split << 6) | log2size
}

fn translate() -> Ste {
    Ste::translate(CD).unwrap().with_s1dss(2)
}

fn put_ste(ram: &Ram, gpa: u64, ste: &Ste) {
    let [w0, w1] = ste.words();
    ram.put_words(gpa, &[w0, w1, 0, 0, 0, 0, 0, 0]);
}

#[test]
fn linear_lookups_index_the_table_by_stream_id() {
    let ram = Ram::new(RAM, 0x10000);
    let table = StreamTable::new(RAM, cfg(0, 0, 6), 16);
    assert_eq!(table.format(), StreamTableFormat::Linear);
    assert_eq!((table.base(), table.effective_log2size()), (RAM, 6));
    put_ste(&ram, RAM + 5 * 64, &translate());
    put_ste(&ram, RAM + 63 * 64, &Ste::bypass());
    assert_eq!(table.lookup(&ram, 5), Ok(translate()));
    assert_eq!(
        table.lookup(&ram, 63).map(|s| s.config()),
        Ok(Config::Bypass)
    );
    // A zeroed entry is V=0: accepted (the kernel makes it abort).
    assert_eq!(table.lookup(&ram, 6).map(|s| s.valid()), Ok(false));
    // Through a trait object too.
    let dyn_ram: &dyn GuestMemory = &ram;
    assert_eq!(table.lookup(dyn_ram, 5), Ok(translate()));
}

#[test]
fn a_stream_id_out_of_range_is_c_bad_streamid() {
    let ram = Ram::new(RAM, 0x10000);
    let table = StreamTable::new(RAM, cfg(0, 0, 6), 16);
    let err = table.lookup(&ram, 64).unwrap_err();
    assert_eq!(
        err,
        LookupError::BadStreamId {
            sid: 64,
            why: BadStreamId::OutOfRange { log2size: 6 }
        }
    );
    let event = err.event();
    assert_eq!((event.id(), event.stream_id()), (EventId::BadStreamId, 64));
    assert_eq!(event.words(), [(64 << 32) | 0x02, 0, 0, 0]);
    assert_eq!(err.stream_id(), 64);
    // SIDSIZE bounds LOG2SIZE: 2^min(10, 4) StreamIDs.
    let narrow = StreamTable::new(RAM, cfg(0, 0, 10), 4);
    assert_eq!(narrow.effective_log2size(), 4);
    assert!(narrow.covers(15) && !narrow.covers(16));
    assert!(matches!(
        narrow.lookup(&ram, 16),
        Err(LookupError::BadStreamId {
            why: BadStreamId::OutOfRange { log2size: 4 },
            ..
        })
    ));
    // 32-bit StreamIDs, and SIDSIZE above 32 clamped: every u32 is in range.
    let wide = StreamTable::new(RAM, cfg(0, 0, 63), 40);
    assert_eq!(wide.effective_log2size(), 32);
    assert!(wide.covers(u32::MAX));
    // LOG2SIZE 0: one STE.
    let one = StreamTable::new(RAM, cfg(0, 0, 0), 16);
    assert!(one.covers(0) && !one.covers(1));
}

#[test]
fn strtab_base_is_realigned_to_the_table_as_the_spec_says() {
    // Linear, 2^4 STEs = 1 KiB: ADDR[9:0] = 0. RA and bits above 51 ignored.
    let t = StreamTable::new((1 << 62) | (1 << 60) | RAM | 0x3c0, cfg(0, 0, 4), 16);
    assert_eq!(t.base(), RAM);
    assert!(t.read_allocate());
    // ...from the literal LOG2SIZE, not the one SIDSIZE limits.
    let t = StreamTable::new(RAM | 0xffc0, cfg(0, 0, 10), 4);
    assert_eq!(t.base(), RAM);
    // 2-level, LOG2SIZE 16, SPLIT 8: 256 L1STDs = 2 KiB: ADDR[10:0] = 0.
    let t = StreamTable::new(RAM | 0x7c0, cfg(1, 8, 16), 16);
    assert_eq!(t.base(), RAM);
    assert_eq!(
        StreamTable::new(RAM | 0x800, cfg(1, 8, 16), 16).base(),
        RAM | 0x800
    );
    // 2-level with one L1STD: 64-byte alignment at least.
    assert_eq!(
        StreamTable::new(RAM | 0x40, cfg(1, 8, 4), 16).base(),
        RAM | 0x40
    );
    // A linear LOG2SIZE too large to shift clears every ADDR bit, no panic.
    assert_eq!(StreamTable::new(RAM, cfg(0, 0, 63), 32).base(), 0);
}

/// A 2-level table at RAM: L1STDs at RAM, level-2 tables from RAM + 0x10000.
fn two_level(split: u32, log2size: u32) -> (Ram, StreamTable) {
    let ram = Ram::new(RAM, 0x40000);
    (ram, StreamTable::new(RAM, cfg(1, split, log2size), 16))
}

const L2: u64 = RAM + 0x10000;

#[test]
fn two_level_lookups_go_through_the_l1_descriptor() {
    let (ram, table) = two_level(8, 16);
    assert_eq!(table.format(), StreamTableFormat::TwoLevel { split: 8 });
    // L1STD 1 covers StreamIDs 0x100..0x1ff with a full 256-STE table (Span 9).
    ram.put_words(RAM + 8, &[L2 | 9]);
    put_ste(&ram, L2 + 5 * 64, &translate());
    put_ste(&ram, L2 + 255 * 64, &Ste::abort());
    assert_eq!(table.lookup(&ram, 0x105), Ok(translate()));
    assert_eq!(
        table.lookup(&ram, 0x1ff).map(|s| s.config()),
        Ok(Config::Abort)
    );
    // The L1STD for 0x000..0x0ff is zero: Span 0, invalid.
    assert_eq!(
        table.lookup(&ram, 0x05),
        Err(LookupError::BadStreamId {
            sid: 0x05,
            why: BadStreamId::InvalidDescriptor { span: 0 }
        })
    );
    assert_eq!(
        table.lookup(&ram, 0x05).unwrap_err().event().id(),
        EventId::BadStreamId
    );
    // Beyond LOG2SIZE.
    assert!(matches!(
        table.lookup(&ram, 0x1_0000),
        Err(LookupError::BadStreamId {
            why: BadStreamId::OutOfRange { log2size: 16 },
            ..
        })
    ));
}

#[test]
fn span_bounds_the_level_two_table() {
    let (ram, table) = two_level(8, 16);
    // Span 3: 2^(3-1) = 4 STEs, indices 0..=3.
    ram.put_words(RAM + 2 * 8, &[L2 | 3]);
    put_ste(&ram, L2 + 3 * 64, &Ste::bypass());
    assert!(table.lookup(&ram, 0x203).is_ok());
    assert_eq!(
        table.lookup(&ram, 0x204),
        Err(LookupError::BadStreamId {
            sid: 0x204,
            why: BadStreamId::BeyondSpan { span: 3 }
        })
    );
    // Span 1: one STE.
    ram.put_words(RAM + 3 * 8, &[L2 | 1]);
    assert!(table.lookup(&ram, 0x300).is_ok());
    assert!(table.lookup(&ram, 0x301).is_err());
    // Span SPLIT + 1 = 9 is the largest valid; 10 and the reserved values above it
    // make the descriptor invalid.
    for span in [10u64, 12, 13, 31] {
        ram.put_words(RAM + 4 * 8, &[L2 | span]);
        assert_eq!(
            table.lookup(&ram, 0x400),
            Err(LookupError::BadStreamId {
                sid: 0x400,
                why: BadStreamId::InvalidDescriptor { span: span as u8 }
            }),
            "span {span}"
        );
    }
    // L2Ptr is bits 51:6: bits 5 (reserved) and above 51 do not move the table.
    ram.put_words(RAM + 5 * 8, &[(0xfff << 52) | L2 | 0x20 | 9]);
    put_ste(&ram, L2 + 7 * 64, &translate());
    assert_eq!(table.lookup(&ram, 0x507), Ok(translate()));
}

#[test]
fn split_selects_the_level_two_size_and_reserved_values_behave_as_6() {
    for (raw, split) in [
        (6, 6),
        (8, 8),
        (10, 10),
        (0, 6),
        (7, 6),
        (9, 6),
        (11, 6),
        (31, 6),
    ] {
        let (ram, table) = two_level(raw, 16);
        assert_eq!(
            table.format(),
            StreamTableFormat::TwoLevel { split },
            "SPLIT {raw}"
        );
        let sid = (3 << split) | 5;
        ram.put_words(RAM + 3 * 8, &[L2 | u64::from(split + 1)]);
        put_ste(&ram, L2 + 5 * 64, &translate());
        assert_eq!(table.lookup(&ram, sid), Ok(translate()), "SPLIT {raw}");
    }
}

#[test]
fn split_at_or_above_log2size_leaves_one_l1_descriptor() {
    // LOG2SIZE 4 with SPLIT 6: one L1STD whose table holds every StreamID.
    let (ram, table) = two_level(6, 4);
    ram.put_words(RAM, &[L2 | 5]); // 16 STEs
    put_ste(&ram, L2 + 15 * 64, &Ste::bypass());
    assert!(table.lookup(&ram, 15).is_ok());
    assert!(matches!(
        table.lookup(&ram, 16),
        Err(LookupError::BadStreamId {
            why: BadStreamId::OutOfRange { log2size: 4 },
            ..
        })
    ));
    // SPLIT equal to LOG2SIZE: still one descriptor.
    let (ram, table) = two_level(8, 8);
    ram.put_words(RAM, &[L2 | 9]);
    put_ste(&ram, L2 + 255 * 64, &Ste::bypass());
    assert!(table.lookup(&ram, 255).is_ok());
}

#[test]
fn reserved_fmt_values_read_as_linear() {
    for fmt in [2, 3] {
        let t = StreamTable::new(RAM, cfg(fmt, 8, 6), 16);
        assert_eq!(t.format(), StreamTableFormat::Linear);
    }
}

#[test]
fn guest_memory_faults_are_f_ste_fetch_at_the_descriptor() {
    // Linear: the STE of 3 sits in a hole.
    let ram = Ram::new(RAM, 0x1000).hole(RAM + 3 * 64..RAM + 3 * 64 + 1);
    let table = StreamTable::new(RAM, cfg(0, 0, 8), 16);
    let err = table.lookup(&ram, 3).unwrap_err();
    assert!(matches!(err, LookupError::Fetch { sid: 3, address, .. } if address == RAM + 192));
    let event = err.event();
    assert_eq!((event.id(), event.stream_id()), (EventId::SteFetch, 3));
    assert_eq!(event.fetch_address(), RAM + 192);
    assert_eq!(event.words()[3], RAM + 192);
    // An STE past the end of RAM: 0x1000 / 64 = 64 STEs fit.
    assert!(table.lookup(&ram, 63).is_ok());
    assert!(matches!(
        table.lookup(&ram, 64),
        Err(LookupError::Fetch { .. })
    ));
    // The whole 64-byte STE is fetched: a hole in word 7 faults too.
    let ram = Ram::new(RAM, 0x1000).hole(RAM + 64 + 56..RAM + 64 + 64);
    assert!(matches!(
        table.lookup(&ram, 1),
        Err(LookupError::Fetch { .. })
    ));

    // 2-level: the L1STD faults, then the level-2 STE does.
    let ram = Ram::new(RAM, 0x40000).hole(RAM + 8..RAM + 16);
    let table = StreamTable::new(RAM, cfg(1, 8, 16), 16);
    let err = table.lookup(&ram, 0x100).unwrap_err();
    assert!(matches!(err, LookupError::Fetch { address, .. } if address == RAM + 8));
    assert_eq!(err.event().fetch_address(), RAM + 8);
    ram.put_words(RAM + 16, &[0x7_0000_0000 | 9]);
    let err = table.lookup(&ram, 0x201).unwrap_err();
    assert!(matches!(err, LookupError::Fetch { address, .. } if address == 0x7_0000_0040));
}

#[test]
fn stes_the_kernel_refuses_are_c_bad_ste() {
    let ram = Ram::new(RAM, 0x10000);
    let table = StreamTable::new(RAM, cfg(0, 0, 8), 16);
    // Every vSTE of the shared table (the kernel's verdicts, checked against the
    // real driver in the arm64 tier), looked up through guest memory.
    for (sid, case) in tables::STES.iter().enumerate() {
        let gpa = RAM + sid as u64 * 64;
        ram.put_words(gpa, &case.words);
        let got = table.lookup(&ram, sid as u32);
        assert_eq!(got.is_ok(), case.accepted, "{}", case.name);
        if let Err(err) = got {
            assert!(matches!(err, LookupError::BadSte { .. }), "{}", case.name);
            let event = err.event();
            assert_eq!(
                (event.id(), event.stream_id()),
                (EventId::BadSte, sid as u32)
            );
            assert_eq!(event.words(), [((sid as u64) << 32) | 0x04, 0, 0, 0]);
        }
    }
    // Stage-2 Config (0b110) is refused and named.
    ram.put_words(RAM, &[1 | (0b110 << 1), 0]);
    assert_eq!(
        table.lookup(&ram, 0),
        Err(LookupError::BadSte {
            sid: 0,
            source: SteError::Config(0b110)
        })
    );
}

#[test]
fn words_2_to_7_are_ignored() {
    // Stage-2 fields (S2VMID, VTCR, S2TTB) and VMSPtr the vSMMU never uses.
    let ram = Ram::new(RAM, 0x1000);
    let table = StreamTable::new(RAM, cfg(0, 0, 4), 16);
    let [w0, w1] = translate().words();
    ram.put_words(RAM, &[w0, w1, u64::MAX, u64::MAX, u64::MAX, 1, 2, 3]);
    assert_eq!(table.lookup(&ram, 0), Ok(translate()));
}

#[test]
fn lookups_allocate_nothing() {
    let (ram, table) = two_level(8, 16);
    ram.put_words(RAM + 8, &[L2 | 9]);
    put_ste(&ram, L2 + 5 * 64, &translate());
    let (found, n) = allocations(|| (table.lookup(&ram, 0x105), table.lookup(&ram, 0x5)));
    assert!(found.0.is_ok() && found.1.is_err());
    assert_eq!(n, 0, "a lookup allocated");
}

proptest! {
    #[test]
    fn lookups_never_panic(
        base in any::<u64>(),
        cfg in any::<u32>(),
        sid_bits in any::<u8>(),
        sid in any::<u32>(),
        memory in proptest::collection::vec(any::<u8>(), 0..0x2000),
    ) {
        let ram = Ram::with_bytes(base & 0xf_ffff_ffc0, memory);
        let table = StreamTable::new(base, cfg, sid_bits);
        prop_assert!(table.effective_log2size() <= 32);
        match table.lookup(&ram, sid) {
            Ok(_) => prop_assert!(table.covers(sid)),
            Err(err) => {
                prop_assert_eq!(err.stream_id(), sid);
                prop_assert_eq!(err.event().stream_id(), sid);
            }
        }
    }

    #[test]
    fn small_tables_in_random_memory_never_panic(
        cfg in any::<u32>(),
        sid in 0u32..0x1000,
        memory in proptest::collection::vec(any::<u8>(), 0x1000..0x8000),
    ) {
        // Random L1STDs point anywhere: most fetches fault, some land in RAM.
        let ram = Ram::with_bytes(0, memory);
        let table = StreamTable::new(0, (cfg & !0x3f) | 12, 12);
        let _ = table.lookup(&ram, sid);
    }
}
