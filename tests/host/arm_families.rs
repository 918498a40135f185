// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! What the batch and drain tests share: the families whose invalidation entries
//! are SMMUv3 commands, and a macro running a generic test for each.

use iommufd::arch::Family;
use iommufd::uapi::IommuViommuArmSmmuv3Invalidate as Cmd;

/// A family whose entries are SMMUv3 commands.
pub trait Arm: Family<Invalidation = Cmd> {}
impl<F: Family<Invalidation = Cmd>> Arm for F {}

/// Runs a generic test for SMMUv3 and for Tegra241 CMDQV.
macro_rules! for_both {
    ($($name:ident),* $(,)?) => {
        mod smmuv3 { $( #[test] fn $name() { super::$name::<iommufd::arch::Smmuv3>() } )* }
        mod tegra241 { $( #[test] fn $name() { super::$name::<iommufd::arch::Tegra241Cmdqv>() } )* }
    };
}
pub(crate) use for_both;
