// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Every parser of untrusted guest input on arbitrary bytes: vSTE, CMDQ commands
//! under several SMMU capability sets, vEVENT records and hw_info. None may panic;
//! whatever the classifier forwards must be the guest's bytes unchanged and must
//! parse again the same way; the per-vIOMMU table must agree with `classify`.
//!
//! cargo +nightly fuzz run guest_parsers -- -runs=1000000

#![no_main]

use iommufd::arch::smmuv3::{CommandRules, Event, GuestCommand, SmmuCaps, Ste, classify};
use iommufd::uapi::{HwCapabilities, IommuHwInfoArmSmmuv3, IommuVeventArmSmmuv3};
use libfuzzer_sys::fuzz_target;
use zerocopy::{FromBytes, IntoBytes};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    // Capabilities from the input itself, so every gate gets both answers.
    let mut info = IommuHwInfoArmSmmuv3::default();
    info.idr[0] = if selector & 1 != 0 { 1 << 12 | 1 << 10 } else { 0 };
    info.idr[1] = u32::from(selector >> 4) << 6;
    info.idr[3] = if selector & 2 != 0 { 1 << 10 } else { 0 };
    info.idr[5] = if selector & 4 != 0 { 1 << 7 } else { 0 };
    let capabilities = HwCapabilities::from_bits_retain(u64::from(selector >> 3 & 1) << 3);
    let caps = SmmuCaps::decode(&info, capabilities);
    let rules = CommandRules::new(&caps);

    if let Ok(ste) = Ste::parse(rest) {
        assert_eq!(Ste::from_words(ste.words()), Ok(ste));
    }
    for chunk in rest.chunks(16) {
        assert_eq!(rules.classify(chunk, |sid| sid & 1 == 0), classify(chunk, &caps, |sid| sid & 1 == 0));
        if let Ok(GuestCommand::Forward(cmd)) = classify(chunk, &caps, |sid| sid & 1 == 0) {
            assert_eq!(cmd.as_bytes(), chunk);
            assert_eq!(classify(cmd.as_bytes(), &caps, |sid| sid & 1 == 0), Ok(GuestCommand::Forward(cmd)));
        }
    }
    if let Ok((record, _)) = IommuVeventArmSmmuv3::read_from_prefix(rest) {
        let _ = Event::decode(&record);
    }
    if let Ok((info, _)) = IommuHwInfoArmSmmuv3::read_from_prefix(rest) {
        let c = SmmuCaps::decode(&info, capabilities);
        let _ = c.mismatches(&caps);
    }
});
