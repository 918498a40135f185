// A per-device transition consumes its state: the old one cannot be used again.
use iommufd::VfioDevice;
use iommufd::arch::{Smmuv3, smmuv3::Ste};
use iommufd::states::VDeviceBound;

fn phase2(bound: VDeviceBound<Smmuv3, VfioDevice>) {
    let ste = Ste::bypass();
    let _nested = bound.install(&ste);
    let _again = bound.install(&ste);
}

fn main() {}
