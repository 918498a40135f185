// A vDEVICE needs a vIOMMU: S2Allocated has no bind.
use iommufd::VfioDevice;
use iommufd::states::S2Allocated;

fn phase1(s2: S2Allocated, dev: VfioDevice) {
    let _bound = s2.bind(dev, 0x42);
}

fn main() {}
