// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! [`Mismatch`]: one capability a virtual IOMMU promises its guest and the physical
//! IOMMU cannot back, as every family's compatibility check reports it.

/// One capability the virtual IOMMU promises and the physical one lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mismatch {
    /// The capability.
    pub what: &'static str,
    /// Its value on the virtual IOMMU.
    pub virtual_value: u64,
    /// Its value on the physical IOMMU.
    pub physical_value: u64,
}

impl core::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "{}: virtual {} > physical {}",
            self.what, self.virtual_value, self.physical_value
        )
    }
}

/// Collects the mismatches of one compatibility check.
#[derive(Debug, Default)]
pub(crate) struct Mismatches(Vec<Mismatch>);

impl Mismatches {
    /// Records `what` unless `fits`.
    pub(crate) fn need(&mut self, fits: bool, what: &'static str, virt: u64, phys: u64) {
        if !fits {
            self.0.push(Mismatch {
                what,
                virtual_value: virt,
                physical_value: phys,
            });
        }
    }

    /// A feature flag: the virtual IOMMU may offer it only where the physical one has it.
    pub(crate) fn flag(&mut self, virt: bool, phys: bool, what: &'static str) {
        self.need(!virt || phys, what, virt.into(), phys.into());
    }

    /// A width or count: the virtual IOMMU's may not exceed the physical one's.
    pub(crate) fn at_most(
        &mut self,
        virt: impl Into<u64>,
        phys: impl Into<u64>,
        what: &'static str,
    ) {
        let (virt, phys) = (virt.into(), phys.into());
        self.need(virt <= phys, what, virt, phys);
    }

    pub(crate) fn into_vec(self) -> Vec<Mismatch> {
        self.0
    }
}
