// A guest stage 1 is installed for a device: VIommuAllocated has no install.
use iommufd::arch::{Smmuv3, smmuv3::Ste};
use iommufd::states::VIommuAllocated;

fn phase2(viommu: VIommuAllocated<Smmuv3>) {
    let _nested = viommu.install(&Ste::bypass());
}

fn main() {}
