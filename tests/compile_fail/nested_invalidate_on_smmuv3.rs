// SMMUv3 guests invalidate through the vIOMMU: a nested SMMUv3 HWPT has no
// invalidate of its own (NestedInvalidation is for VT-d and the mock).
use iommufd::VfioDevice;
use iommufd::arch::Smmuv3;
use iommufd::states::Nested;
use iommufd::uapi::IommuViommuArmSmmuv3Invalidate;

fn phase2(nested: &Nested<Smmuv3, VfioDevice>, commands: &[IommuViommuArmSmmuv3Invalidate]) {
    let _ = nested.invalidate(commands);
}

fn main() {}
