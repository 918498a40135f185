// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Layout records of the wire structs, read by the header check
//! (`rig/header-check.sh`), which compares them with what the C compiler says of the
//! kernel's own headers.

/// Where one wire struct's layout came from and what it is on the Rust side.
#[derive(Debug, Clone, Copy)]
pub struct StructLayout {
    /// The C name: `iommu_ioas_map`, or `iommu_test_cmd::mock_domain` for a member of
    /// an anonymous union.
    pub c_name: &'static str,
    /// `size_of` on the Rust side.
    pub size: usize,
    /// `align_of` on the Rust side.
    pub align: usize,
    /// Each field's C name and its Rust offset.
    pub fields: &'static [(&'static str, usize)],
}

/// A wire struct that mirrors a C struct of the kernel's uAPI.
pub trait CStruct {
    /// The struct's layout record.
    const LAYOUT: StructLayout;
}

/// Declares a `#[repr(C)]` zerocopy wire struct and its [`CStruct`] layout record.
/// A field may name its C counterpart with `=> "c_name"` when the Rust name differs.
macro_rules! wire_struct {
    (
        $(#[$meta:meta])*
        pub struct $name:ident = $c_name:literal {
            $(
                $(#[$fmeta:meta])*
                pub $field:ident : $ty:ty $(=> $c_field:literal)?,
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Default, zerocopy::FromBytes,
            zerocopy::IntoBytes, zerocopy::Immutable, zerocopy::KnownLayout,
        )]
        pub struct $name {
            $(
                $(#[$fmeta])*
                pub $field: $ty,
            )*
        }

        impl $crate::uapi::layout::CStruct for $name {
            const LAYOUT: $crate::uapi::layout::StructLayout = $crate::uapi::layout::StructLayout {
                c_name: $c_name,
                size: ::core::mem::size_of::<$name>(),
                align: ::core::mem::align_of::<$name>(),
                fields: &[$((
                    $crate::uapi::layout::wire_struct!(@c_field $field $($c_field)?),
                    ::core::mem::offset_of!($name, $field),
                )),*],
            };
        }
    };
    (@c_field $field:ident $c_field:literal) => { $c_field };
    (@c_field $field:ident) => { stringify!($field) };
}
pub(crate) use wire_struct;

/// Pins a wire struct's size and field offsets at compile time, with the numbers read
/// off the kernel header (the header check keeps them honest).
macro_rules! pin_layout {
    ($name:ty, size = $size:expr $(, $field:ident = $offset:expr)* $(,)?) => {
        static_assertions::const_assert_eq!(::core::mem::size_of::<$name>(), $size);
        $(static_assertions::const_assert_eq!(::core::mem::offset_of!($name, $field), $offset);)*
    };
}
pub(crate) use pin_layout;
