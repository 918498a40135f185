//! x
pub mod uapi;
