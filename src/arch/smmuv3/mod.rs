// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! ARM SMMUv3 (`IOMMU_VIOMMU_TYPE_ARM_SMMUV3`), what the lifecycle needs of it:
//! [`Ste`], the one way to build or parse a vSTE (abort, bypass, stage-1 translate).
//!
//! A vSTE is the first two 64-bit words of the guest's Stream Table Entry (SMMUv3
//! spec, section 5.2). The kernel accepts V, Config, S1Fmt, S1ContextPtr, S1CDMax in
//! word 0 and S1DSS, S1CIR, S1COR, S1CSH, S1STALLD, EATS in word 1, and Config values
//! abort, bypass and stage-1 translate only; anything else is EIO.

mod caps;
pub mod command;
mod command_rules;
mod drain;
mod event;
mod guest_command;
pub(crate) mod id_registers;
mod ste;

pub use super::Mismatch;
pub use caps::{Granules, SmmuCaps, Stages};
pub use command_rules::CommandRules;
pub use drain::{Drain, DrainError, Step};
pub use event::{Event, EventId};
pub use guest_command::{CommandError, GuestCommand, StreamSpan, classify};
pub use id_registers::IdRegisters;
pub use ste::{Cacheability, Config, Shareability, Ste, SteError};

use super::{DefaultStage1, Family, sealed};
use crate::uapi::{
    IOMMU_VEVENTQ_TYPE_ARM_SMMUV3, IOMMU_VIOMMU_TYPE_ARM_SMMUV3, IommuHwInfoArmSmmuv3,
    IommuVeventArmSmmuv3, IommuViommuArmSmmuv3Invalidate,
};

/// The ARM SMMUv3 family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Smmuv3;

impl sealed::Sealed for Smmuv3 {}

impl Family for Smmuv3 {
    const NAME: &'static str = "ARM SMMUv3";
    const VIOMMU_TYPE: u32 = IOMMU_VIOMMU_TYPE_ARM_SMMUV3;
    const VEVENTQ_TYPE: u32 = IOMMU_VEVENTQ_TYPE_ARM_SMMUV3;
    const INITIAL: DefaultStage1 = DefaultStage1::Bypass;
    type VIommuData = ();
    type Stage1 = Ste;
    type Invalidation = IommuViommuArmSmmuv3Invalidate;
    type HwInfo = IommuHwInfoArmSmmuv3;
    type VEvent = IommuVeventArmSmmuv3;

    fn default_stage1(kind: DefaultStage1) -> Option<Self::Stage1> {
        Some(match kind {
            DefaultStage1::Bypass => Ste::bypass(),
            DefaultStage1::Abort => Ste::abort(),
        })
    }
}
