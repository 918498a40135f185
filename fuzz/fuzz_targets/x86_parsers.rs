// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The Intel VT-d and AMD parsers on arbitrary bytes: the VT-d stage 1 and
//! invalidation entry, the AMD guest DTE, and both hw_info decodes with their
//! compatibility checks. None may panic; whatever a parser accepts must be sent as
//! the input's bytes and parse again the same way.
//!
//! cargo +nightly fuzz run x86_parsers -- -runs=1000000

#![no_main]

use iommufd::arch::Stage1Config;
use iommufd::arch::amd::{AmdCaps, AmdGuestDte};
use iommufd::arch::vtd::{VtdCaps, VtdInvalidation, VtdStage1};
use iommufd::uapi::{IommuHwInfoAmd, IommuHwInfoVtd};
use libfuzzer_sys::fuzz_target;
use zerocopy::{FromBytes, IntoBytes};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    // Host capabilities from the input, so every capability gate gets both answers.
    let s = u64::from(selector);
    let vtd = VtdCaps::decode(&IommuHwInfoVtd {
        cap_reg: (s & 1) << 60,
        ecap_reg: ((s >> 1) & 1) << 31 | ((s >> 2) & 1) << 34 | 1 << 43 | 1 << 26,
        ..Default::default()
    });
    let amd = AmdCaps::decode(&IommuHwInfoAmd { efr: 1 << 4 | ((s >> 3) & 1) << 12, efr2: 0 });

    if let Ok(s1) = VtdStage1::parse(rest, &vtd) {
        assert_eq!(s1.hwpt_data().as_bytes(), &rest[..24]);
        assert_eq!(VtdStage1::parse(s1.hwpt_data().as_bytes(), &vtd), Ok(s1));
    }
    for chunk in rest.chunks(24) {
        if let Ok(entry) = VtdInvalidation::parse(chunk) {
            assert_eq!(entry.as_bytes(), chunk);
        }
    }
    if let Ok(dte) = AmdGuestDte::parse(rest, &amd) {
        assert_eq!(dte.hwpt_data().as_bytes(), &rest[..32]);
        assert_eq!(AmdGuestDte::parse(dte.hwpt_data().as_bytes(), &amd), Ok(dte));
    }
    if let Ok((info, _)) = IommuHwInfoVtd::read_from_prefix(rest) {
        let host = VtdCaps::decode(&info);
        let _ = host.mismatches(&VtdCaps::for_guest(&vtd));
    }
    if let Ok((info, _)) = IommuHwInfoAmd::read_from_prefix(rest) {
        let host = AmdCaps::decode(&info);
        let _ = host.mismatches(&AmdCaps::for_guest(&amd));
    }
});
