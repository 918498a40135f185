// Guest invalidations go to a vIOMMU: a stage 2 alone cannot take them.
use iommufd::states::S2Allocated;
use iommufd::uapi::IommuViommuArmSmmuv3Invalidate;

fn phase2(s2: S2Allocated, commands: &[IommuViommuArmSmmuv3Invalidate]) {
    let _ = s2.invalidate(commands);
}

fn main() {}
