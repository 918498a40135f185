//! x
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod device;
pub mod error;
pub mod ids;
#[cfg(feature = "mock")]
pub mod mock;
mod ioctl;
mod iommufd;
pub mod payload;
pub mod uapi;

pub use device::{Device, VfioDevice, VfioUnbound};
pub use error::{Error, ErrorKind, Op, Result, TransitionError};
pub use ids::*;
pub use iommufd::*;
