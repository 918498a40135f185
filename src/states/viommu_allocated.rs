// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! [`VIommuAllocated`]: a virtual IOMMU and its default stage-1 HWPTs, the third
//! state.

use super::events::VEventQueue;
use super::object::KernelObject;
use super::{S2Allocated, VDeviceBound, sealed};
use crate::arch::{DefaultStage1, Family, Stage1Config};
use crate::device::Device;
use crate::error::{Error, Result, TransitionError};
use crate::ids::{DevId, HwptId, PtId, VIommuId};
use crate::iommufd::{HwInfo, HwptAlloc, IommuFd};
use std::marker::PhantomData;
use std::sync::Arc;
use zerocopy::IntoBytes;

/// A vIOMMU of family `F` on a stage 2, with the family's default stage-1 HWPTs
/// (bypass, abort) made once. Shared by every device behind the same physical IOMMU:
/// clone the handle; [`bind`](Self::bind) makes a device visible to the guest.
///
/// [`invalidate`](Self::invalidate) takes `&self` and may be called from several
/// vCPU threads at once.
pub struct VIommuAllocated<F: Family> {
    inner: Arc<ViommuInner<F>>,
}

// Field order is teardown order: default HWPTs, then the vIOMMU, then its stage 2.
struct ViommuInner<F: Family> {
    defaults: [Option<KernelObject<HwptId>>; 2],
    viommu: KernelObject<VIommuId>,
    /// The device the vIOMMU and its defaults were allocated for, to make the
    /// defaults again if a `try_destroy` fails after destroying them.
    dev_id: DevId,
    data: F::VIommuData,
    s2: S2Allocated,
    family: PhantomData<F>,
}

impl<F: Family> Clone for VIommuAllocated<F> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<F: Family> core::fmt::Debug for VIommuAllocated<F> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("VIommuAllocated")
            .field("family", &F::NAME)
            .field("id", &self.id())
            .field("s2", &self.inner.s2.id())
            .field("bypass", &self.default_hwpt(DefaultStage1::Bypass))
            .field("abort", &self.default_hwpt(DefaultStage1::Abort))
            .finish()
    }
}

impl<F: Family> sealed::Sealed for VIommuAllocated<F> {}
impl<F: Family> super::State for VIommuAllocated<F> {}

impl<F: Family> VIommuAllocated<F> {
    pub(super) fn new(
        s2: &S2Allocated,
        dev: &impl Device,
        mut data: F::VIommuData,
    ) -> Result<Self> {
        let fd = s2.iommufd();
        let viommu = KernelObject::make(fd, |fd| {
            fd.alloc_viommu_raw(F::VIOMMU_TYPE, dev.dev_id(), s2.id(), data.as_mut_bytes())
        })?;
        // Each default made so far is destroyed by `?` if a later one fails.
        let mut defaults = [None, None];
        for kind in DefaultStage1::ALL {
            defaults[kind.index()] = make_default::<F>(fd, dev.dev_id(), viommu.id(), kind)?;
        }
        Ok(Self {
            inner: Arc::new(ViommuInner {
                defaults,
                viommu,
                dev_id: dev.dev_id(),
                data,
                s2: s2.clone(),
                family: PhantomData,
            }),
        })
    }

    /// The kernel id.
    pub fn id(&self) -> VIommuId {
        self.inner.viommu.id()
    }

    /// The device the vIOMMU was allocated for (its defaults are made for it too).
    pub fn dev_id(&self) -> DevId {
        self.inner.dev_id
    }

    /// The stage 2 it sits on.
    pub fn s2(&self) -> &S2Allocated {
        &self.inner.s2
    }

    /// The iommufd it lives in.
    pub fn iommufd(&self) -> &Arc<IommuFd> {
        self.inner.viommu.fd()
    }

    /// The driver data as the kernel left it after allocation.
    pub fn driver_data(&self) -> &F::VIommuData {
        &self.inner.data
    }

    /// The HWPT of a default stage-1 configuration, if the family has it.
    pub fn default_hwpt(&self, kind: DefaultStage1) -> Option<HwptId> {
        self.inner.defaults[kind.index()]
            .as_ref()
            .map(KernelObject::id)
    }

    /// Makes `dev` visible to the guest as `virt_id` (for SMMUv3 the guest's
    /// StreamID): allocates its vDEVICE and attaches it to the family's initial
    /// default (bypass: stage 2 only). On failure the device comes back as it was.
    pub fn bind<D: Device>(
        &self,
        dev: D,
        virt_id: u64,
    ) -> Result<VDeviceBound<F, D>, TransitionError<D>> {
        let Some(initial) = self.default_hwpt(F::INITIAL) else {
            return Err(TransitionError::new(
                dev,
                super::binding::no_default(F::INITIAL),
            ));
        };
        let vdevice = match KernelObject::make(self.iommufd(), |fd| {
            fd.alloc_vdevice(self.id(), dev.dev_id(), virt_id)
        }) {
            Ok(v) => v,
            Err(e) => return Err(TransitionError::new(dev, e)),
        };
        if let Err(e) = dev.attach(PtId::Hwpt(initial)) {
            drop(vdevice);
            return Err(TransitionError::new(dev, e));
        }
        Ok(VDeviceBound::new(self.clone(), dev, vdevice, virt_id))
    }

    /// Forwards guest invalidation requests to the hardware in one ioctl, without
    /// copying or allocating. See [`IommuFd::invalidate`].
    pub fn invalidate(&self, entries: &[F::Invalidation]) -> Result<()> {
        self.iommufd().invalidate(self.id(), entries)
    }

    /// Allocates the vIOMMU's event queue, holding up to `depth` events.
    pub fn alloc_vevent_queue(&self, depth: u32) -> Result<VEventQueue<F>> {
        VEventQueue::new(self.clone(), depth)
    }

    /// Hands the guest queue at guest physical `ipa` (`length` bytes, mapped in the
    /// stage 2) to the hardware as the vIOMMU's queue 0; make the next ones with
    /// [`HwQueue::alloc_next`](super::HwQueue::alloc_next). Only for families with HW
    /// queues (Tegra241 CMDQV, the mock).
    pub fn alloc_hw_queue(&self, ipa: u64, length: u64) -> Result<super::HwQueue<F>> {
        super::HwQueue::first(self, ipa, length)
    }

    /// Maps the window the driver returned at allocation (Tegra241 CMDQV's VINTF
    /// page0, the mock's pages): see [`VIommuWindow`](super::VIommuWindow). Refused
    /// before any syscall when there is none (SMMUv3, or a vIOMMU allocated without
    /// the driver data that asks for it).
    pub fn map_window(&self) -> Result<super::VIommuWindow<F>> {
        super::VIommuWindow::new(self)
    }

    /// Reads `dev`'s IOMMU information in the family's format, to check that the
    /// physical IOMMU can back the virtual one the VMM presents.
    pub fn hw_info(&self, dev: &impl Device) -> Result<(F::HwInfo, HwInfo)> {
        self.iommufd().hw_info::<F::HwInfo>(dev.dev_id())
    }

    /// Destroys the vIOMMU and its defaults now and reports the kernel's answer.
    /// Fails, giving the handle back, while other handles or devices share it, or
    /// while something made outside this crate (a vEVENTQ, a HW queue, a nested
    /// HWPT from [`IommuFd`]) holds the vIOMMU.
    ///
    /// The defaults must go before the kernel can destroy the vIOMMU, so on that
    /// last failure they are made again: same configurations, new ids (no device
    /// can be on them, as no [`VDeviceBound`] shares the handle). The kernel makes
    /// them only for a bound device, the one the vIOMMU was allocated for
    /// ([`dev_id`](Self::dev_id)): while it is bound the call is all or nothing;
    /// once it is gone (or the kernel is out of memory), a default that could not
    /// be made again stays missing, and [`bind`](Self::bind) and `switch_default` to
    /// it fail with [`Error::Unsupported`] naming it.
    pub fn try_destroy(self) -> Result<(), TransitionError<Self>> {
        let mut inner = match Arc::try_unwrap(self.inner) {
            Ok(inner) => inner,
            Err(inner) => {
                return Err(TransitionError::new(
                    Self { inner },
                    Error::StillShared { what: "vIOMMU" },
                ));
            }
        };
        let mut failure = None;
        for slot in inner.defaults.iter_mut() {
            if let Some(hwpt) = slot.take() {
                if let Err((hwpt, e)) = hwpt.destroy() {
                    *slot = Some(hwpt);
                    failure = Some(e);
                    break;
                }
            }
        }
        let error = match failure {
            Some(e) => e,
            None => match inner.viommu.destroy_in_place() {
                Ok(()) => return Ok(()),
                Err(e) => e,
            },
        };
        inner.remake_defaults();
        Err(TransitionError::new(
            Self {
                inner: Arc::new(inner),
            },
            error,
        ))
    }
}

impl<F: Family> ViommuInner<F> {
    /// Makes again the defaults a failed `try_destroy` destroyed. A default the
    /// kernel cannot make again (out of memory) stays missing: `bind` and
    /// `switch_default` to it then fail with a typed error.
    fn remake_defaults(&mut self) {
        for kind in DefaultStage1::ALL {
            let slot = &mut self.defaults[kind.index()];
            if slot.is_none() {
                let fd = self.viommu.fd();
                *slot = make_default::<F>(fd, self.dev_id, self.viommu.id(), kind)
                    .ok()
                    .flatten();
            }
        }
    }
}

/// The default stage-1 HWPT `kind` of `viommu`, if the family has one.
fn make_default<F: Family>(
    fd: &Arc<IommuFd>,
    dev_id: DevId,
    viommu: VIommuId,
    kind: DefaultStage1,
) -> Result<Option<KernelObject<HwptId>>> {
    let Some(config) = F::default_stage1(kind) else {
        return Ok(None);
    };
    let data = config.hwpt_data();
    let request = HwptAlloc::nested(dev_id, viommu, &data);
    KernelObject::make(fd, |fd| fd.alloc_hwpt(&request)).map(Some)
}
