// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Prints the layout of every wire struct and the value of every constant the crate
//! mirrors from the kernel's uAPI, one per line. `rig/header-check.sh` compares this
//! with what the C compiler reads from the kernel's headers.
//!
//! ```text
//! cargo run --example uapi_layout --features mock
//! ```

use iommufd::uapi;

fn main() {
    let mut structs = uapi::STRUCTS.to_vec();
    let mut constants: Vec<(&str, u64)> = Vec::new();
    constants.extend_from_slice(uapi::IOCTL_REQUESTS);
    constants.extend_from_slice(uapi::UNWRAPPED_REQUESTS);
    constants.extend_from_slice(uapi::ENUM_CONSTANTS);
    constants.extend_from_slice(uapi::FLAG_CONSTANTS);
    #[cfg(feature = "mock")]
    {
        structs.extend_from_slice(uapi::MOCK_STRUCTS);
        constants.extend_from_slice(uapi::MOCK_CONSTANTS);
    }
    for s in structs {
        println!("struct {} {} {}", s.c_name, s.size, s.align);
        for (field, offset) in s.fields {
            println!("field {} {} {}", s.c_name, field, offset);
        }
    }
    for (name, value) in constants {
        println!("const {name} {value:#x}");
    }
}
