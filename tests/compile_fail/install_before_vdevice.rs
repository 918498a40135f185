// A guest stage 1 is installed for a device: VIommuAllocated has no install.
use iommufd::arch::{Smmuv3, smmuv3};
use iommufd::states::VIommuAllocated;

fn phase2(viommu: VIommuAllocated<Smmuv3>) {
    let _nested = viommu.install(&smmuv3::bypass_vste());
}

fn main() {}
