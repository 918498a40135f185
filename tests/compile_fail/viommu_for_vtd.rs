// Intel VT-d has no vIOMMU in Linux 7.3: it nests on the stage 2 itself
// (S2Allocated::attach), so a VT-d vIOMMU does not compile.
use iommufd::VfioDevice;
use iommufd::arch::Vtd;
use iommufd::states::S2Allocated;

fn phase1(s2: &S2Allocated, dev: &VfioDevice) {
    let _ = s2.alloc_viommu::<Vtd>(dev);
}

fn main() {}
