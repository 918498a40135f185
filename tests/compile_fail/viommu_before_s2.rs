// A vIOMMU needs a stage 2: IoasReady has no alloc_viommu.
use iommufd::VfioDevice;
use iommufd::arch::Smmuv3;
use iommufd::states::IoasReady;

fn phase1(ioas: IoasReady, dev: VfioDevice) {
    let _viommu = ioas.alloc_viommu::<Smmuv3>(&dev);
}

fn main() {}
