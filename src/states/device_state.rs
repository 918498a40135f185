// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! [`DeviceState`]: a device whose stage 1 the guest changes at run time, changed in
//! place, for a VMM that keeps its devices in a struct or a map.

use super::binding::Binding;
use super::{Nested, VDeviceBound};
use crate::arch::{DefaultStage1, Family, NestedInvalidation};
use crate::device::Device;
use crate::error::{Result, TransitionError};
use crate::ids::HwptId;

/// What the guest asks of a device's stage 1, owned: a function that reads a guest
/// STE can return one. For SMMUv3, `GuestStage1::from(ste)` maps a parsed
/// [`Ste`](crate::arch::smmuv3::Ste) (invalid and abort STEs abort, bypass bypasses,
/// translate installs).
pub enum GuestStage1<F: Family> {
    /// A default: bypass or abort.
    Default(DefaultStage1),
    /// Translation through the guest's tables, described by this checked
    /// configuration.
    Translate(F::Stage1),
}

// By hand: derives would require `F: Clone + Debug + PartialEq` of the marker.
impl<F: Family> Clone for GuestStage1<F> {
    fn clone(&self) -> Self {
        match self {
            GuestStage1::Default(kind) => GuestStage1::Default(*kind),
            GuestStage1::Translate(config) => GuestStage1::Translate(config.clone()),
        }
    }
}

impl<F: Family> core::fmt::Debug for GuestStage1<F> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            GuestStage1::Default(kind) => f.debug_tuple("Default").field(kind).finish(),
            GuestStage1::Translate(config) => f.debug_tuple("Translate").field(config).finish(),
        }
    }
}

impl<F: Family> PartialEq for GuestStage1<F> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (GuestStage1::Default(a), GuestStage1::Default(b)) => a == b,
            (GuestStage1::Translate(a), GuestStage1::Translate(b)) => a == b,
            _ => false,
        }
    }
}

/// A bound device, on a default or on its own nested stage 1, changed in place.
///
/// [`apply`](Self::apply) takes `&mut self` and, like the typed transitions, is all
/// or nothing: when the kernel refuses, the device is still attached where it was
/// and [`stage1`](Self::stage1) still says so. Made from either per-device typestate
/// ([`VDeviceBound`], [`Nested`]) with `From`; [`unbind`](Self::unbind) unplugs.
///
/// ```no_run
/// use iommufd::arch::{Smmuv3, smmuv3::Ste};
/// use iommufd::states::{DeviceState, VDeviceBound};
/// use iommufd::VfioDevice;
/// use std::collections::BTreeMap;
///
/// /// The VMM's vSMMU: its devices by guest StreamID.
/// struct VSmmu {
///     devices: BTreeMap<u32, DeviceState<Smmuv3, VfioDevice>>,
/// }
///
/// impl VSmmu {
///     fn plug(&mut self, sid: u32, bound: VDeviceBound<Smmuv3, VfioDevice>) {
///         self.devices.insert(sid, bound.into());
///     }
///
///     /// The guest invalidated the STE of `sid`, now holding `bytes`.
///     fn reload_ste(&mut self, sid: u32, bytes: &[u8; 64]) -> Result<(), String> {
///         let device = self.devices.get_mut(&sid).ok_or("no device")?;
///         let ste = Ste::parse(bytes).map_err(|e| e.to_string())?; // C_BAD_STE
///         device.apply(ste.into()).map_err(|e| e.to_string()) // unchanged on error
///     }
///
///     fn unplug(&mut self, sid: u32) -> Option<VfioDevice> {
///         let device = self.devices.remove(&sid)?;
///         match device.unbind() {
///             Ok(vfio) => Some(vfio), // on the stage 2 alone, vDEVICE gone
///             Err(e) => {
///                 let (device, _why) = e.into_parts();
///                 self.devices.insert(sid, device); // still bound: try again later
///                 None
///             }
///         }
///     }
/// }
/// ```
pub struct DeviceState<F: Family, D: Device> {
    binding: Binding<F, D>,
    stage1: GuestStage1<F>,
}

impl<F: Family, D: Device + core::fmt::Debug> core::fmt::Debug for DeviceState<F, D> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DeviceState")
            .field("binding", &self.binding)
            .field("stage1", &self.stage1)
            .finish()
    }
}

impl<F: Family, D: Device> From<VDeviceBound<F, D>> for DeviceState<F, D> {
    fn from(state: VDeviceBound<F, D>) -> Self {
        Self {
            binding: state.binding,
            stage1: GuestStage1::Default(state.at),
        }
    }
}

impl<F: Family, D: Device> From<Nested<F, D>> for DeviceState<F, D> {
    fn from(state: Nested<F, D>) -> Self {
        Self {
            binding: state.binding,
            stage1: GuestStage1::Translate(state.config),
        }
    }
}

/// A [`DeviceState`] as its typestate, for code that wants the compile-time
/// guarantees back ([`DeviceState::into_typed`]).
#[derive(Debug)]
pub enum Typed<F: Family, D: Device> {
    /// On a default stage 1.
    Bound(VDeviceBound<F, D>),
    /// On its own nested stage 1.
    Nested(Nested<F, D>),
}

impl<F: Family, D: Device> From<Typed<F, D>> for DeviceState<F, D> {
    fn from(state: Typed<F, D>) -> Self {
        match state {
            Typed::Bound(b) => b.into(),
            Typed::Nested(n) => n.into(),
        }
    }
}

impl<F: Family, D: Device> DeviceState<F, D> {
    super::binding::binding_accessors!();

    /// The state as its typestate: [`VDeviceBound`] on a default, [`Nested`] on a
    /// nested HWPT. Nothing in the kernel changes.
    pub fn into_typed(self) -> Typed<F, D> {
        match self.stage1 {
            GuestStage1::Default(at) => Typed::Bound(VDeviceBound {
                binding: self.binding,
                at,
            }),
            GuestStage1::Translate(config) => Typed::Nested(Nested {
                binding: self.binding,
                config,
            }),
        }
    }

    /// What the device is on: a default, or the configuration its nested HWPT was
    /// made from.
    pub fn stage1(&self) -> &GuestStage1<F> {
        &self.stage1
    }

    /// The device's own nested HWPT, when it is on one.
    pub fn stage1_hwpt(&self) -> Option<HwptId> {
        self.binding.stage1.as_ref().map(|h| h.id())
    }

    /// Moves the device to `target`: a default it is already on costs nothing; a
    /// translate configuration always makes a new nested HWPT (the guest
    /// invalidated the STE: the kernel must see it again), attaches the device to it
    /// by replace and destroys the one it left.
    ///
    /// # Errors
    ///
    /// The kernel's refusal of the configuration or the attach, or
    /// [`Error::Unsupported`](crate::Error::Unsupported) for a default the vIOMMU
    /// lacks. Either way nothing changed: the device is attached where it was.
    pub fn apply(&mut self, target: GuestStage1<F>) -> Result<()> {
        if matches!(target, GuestStage1::Default(_)) && self.stage1 == target {
            return Ok(());
        }
        match &target {
            GuestStage1::Default(kind) => drop(self.binding.switch_to_default(*kind)?),
            GuestStage1::Translate(config) => drop(self.binding.switch_to_config(config)?),
        }
        self.stage1 = target;
        Ok(())
    }

    /// Takes the device away from the guest: attaches it to the stage 2 alone (no
    /// vIOMMU), destroys its nested HWPT, if any, and its vDEVICE, and gives the
    /// device back. On failure the state comes back unchanged in the error.
    pub fn unbind(self) -> Result<D, TransitionError<Self>> {
        super::binding::unbind(self, |s| &s.binding, |s| s.binding)
    }
}

impl<F: NestedInvalidation, D: Device> DeviceState<F, D> {
    /// Forwards guest invalidation requests to the device's nested HWPT in one
    /// ioctl, as [`Nested::invalidate`] does (families whose stage-1 caches are
    /// invalidated per HWPT).
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`](crate::Error::Unsupported) when the device is on a default, with no nested HWPT
    /// to invalidate (nothing is sent); otherwise what
    /// [`IommuFd::invalidate`](crate::IommuFd::invalidate) says.
    pub fn invalidate(&self, entries: &[F::HwptInvalidation]) -> Result<()> {
        self.binding.invalidate_stage1(entries)
    }
}
