// The lifecycle installs only a parsed STE: guest bytes as the raw uAPI struct do
// not type-check (the id level, `HwptAlloc::nested`, is where raw data goes).
use iommufd::VfioDevice;
use iommufd::arch::Smmuv3;
use iommufd::states::VDeviceBound;
use iommufd::uapi::IommuHwptArmSmmuv3;

fn phase2(bound: VDeviceBound<Smmuv3, VfioDevice>, guest_bytes: IommuHwptArmSmmuv3) {
    let _nested = bound.install(&guest_bytes);
}

fn main() {}
