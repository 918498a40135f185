// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Wrong orders do not compile: trybuild snapshots of the compiler's refusals
//! (`tests/compile_fail/*.stderr`, made with the toolchain in rust-toolchain.toml).

#[test]
fn wrong_lifecycle_orders_do_not_compile() {
    trybuild::TestCases::new().compile_fail("tests/compile_fail/*.rs");
}
