// SMMUv3 nests through its vIOMMU: a nested HWPT straight on the stage 2
// (the VT-d path) does not compile for it.
use iommufd::VfioDevice;
use iommufd::arch::Smmuv3;
use iommufd::states::S2Allocated;

fn phase1(s2: &S2Allocated, dev: VfioDevice) {
    let _ = s2.attach::<Smmuv3, _>(dev);
}

fn main() {}
