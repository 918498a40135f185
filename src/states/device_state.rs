// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! [`DeviceState`]: the per-device states in one type, for a VMM that stores a device
//! whose state the guest changes at run time.

use super::{Nested, VDeviceBound};
use crate::arch::{DefaultStage1, Family};
use crate::device::Device;
use crate::error::{Result, TransitionError};

/// What the guest asks of a device's stage 1 (decoded from its STE, for SMMUv3).
#[derive(Debug, Clone, Copy)]
pub enum GuestStage1<'a, F: Family> {
    /// A default: bypass or abort.
    Default(DefaultStage1),
    /// Translation through the guest's tables, described by this configuration.
    Translate(&'a F::Stage1),
}

/// A device in either per-device state. [`apply`](Self::apply) moves it to what the
/// guest asked, with the same guarantees as the typed transitions: a failure gives
/// back the device in the state it was, attached where it was.
pub enum DeviceState<F: Family, D: Device> {
    /// On a default stage 1.
    Bound(VDeviceBound<F, D>),
    /// On its own nested stage 1.
    Nested(Nested<F, D>),
}

impl<F: Family, D: Device + core::fmt::Debug> core::fmt::Debug for DeviceState<F, D> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DeviceState::Bound(b) => b.fmt(f),
            DeviceState::Nested(n) => n.fmt(f),
        }
    }
}

impl<F: Family, D: Device> From<VDeviceBound<F, D>> for DeviceState<F, D> {
    fn from(state: VDeviceBound<F, D>) -> Self {
        DeviceState::Bound(state)
    }
}

impl<F: Family, D: Device> From<Nested<F, D>> for DeviceState<F, D> {
    fn from(state: Nested<F, D>) -> Self {
        DeviceState::Nested(state)
    }
}

impl<F: Family, D: Device> DeviceState<F, D> {
    /// Moves the device to `target`.
    pub fn apply(self, target: GuestStage1<'_, F>) -> Result<Self, TransitionError<Self>> {
        fn back<T: Into<DeviceState<F, D>>, F: Family, D: Device>(
            e: TransitionError<T>,
        ) -> TransitionError<DeviceState<F, D>> {
            let (state, error) = e.into_parts();
            TransitionError::new(state.into(), error)
        }
        match (self, target) {
            (DeviceState::Bound(b), GuestStage1::Default(kind)) if b.default_stage1() == kind => {
                Ok(b.into())
            }
            (DeviceState::Bound(b), GuestStage1::Default(kind)) => {
                b.switch_default(kind).map(Into::into).map_err(back)
            }
            (DeviceState::Bound(b), GuestStage1::Translate(config)) => {
                b.install(config).map(Into::into).map_err(back)
            }
            (DeviceState::Nested(n), GuestStage1::Default(kind)) => {
                n.switch_default(kind).map(Into::into).map_err(back)
            }
            (DeviceState::Nested(n), GuestStage1::Translate(config)) => {
                n.reinstall(config).map(Into::into).map_err(back)
            }
        }
    }

    /// The device.
    pub fn device(&self) -> &D {
        match self {
            DeviceState::Bound(b) => b.device(),
            DeviceState::Nested(n) => n.device(),
        }
    }
}
