// A stage-1 configuration of one family cannot reach a vIOMMU of another.
use iommufd::VfioDevice;
use iommufd::arch::Smmuv3;
use iommufd::states::VDeviceBound;
use iommufd::uapi::IommuHwptVtdS1;

fn phase2(bound: VDeviceBound<Smmuv3, VfioDevice>, vtd: IommuHwptVtdS1) {
    let _nested = bound.install(&vtd);
}

fn main() {}
