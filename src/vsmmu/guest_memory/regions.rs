// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The layout shared by the guest memories made of regions: regions sorted by guest
//! physical address, checked not to overlap, and an access split into one piece per
//! region once the regions are known to cover all of it.

use super::{GuestMemoryError, GuestMemoryFault, GuestRegionError, access_end};

/// A range of guest physical addresses one region holds.
pub(super) trait Span {
    /// Its guest physical base.
    fn base(&self) -> u64;
    /// Its length in bytes.
    fn size(&self) -> u64;
    /// One past its last guest physical address (cannot overflow once [`sorted`]
    /// accepted the region).
    fn end(&self) -> u64 {
        self.base().saturating_add(self.size())
    }
}

/// `regions` sorted by base, after refusing an empty region, one whose end passes
/// `u64::MAX` (`check`, for what else a kind of region needs, runs after those) and
/// two that overlap. Indices in errors count the regions in the order given.
pub(super) fn sorted<R: Span>(
    regions: impl IntoIterator<Item = R>,
    check: impl Fn(usize, &R) -> Result<(), GuestRegionError>,
) -> Result<Vec<R>, GuestRegionError> {
    let mut indexed: Vec<(usize, R)> = regions.into_iter().enumerate().collect();
    for (index, region) in &indexed {
        let index = *index;
        if region.size() == 0 {
            return Err(GuestRegionError::Empty { index });
        }
        if region.base().checked_add(region.size()).is_none() {
            return Err(GuestRegionError::GpaOverflow { index });
        }
        check(index, region)?;
    }
    indexed.sort_by_key(|(_, region)| region.base());
    // Sorted by base, a region overlaps some other one exactly when it overlaps its
    // successor.
    for pair in indexed.windows(2) {
        if let [(a, low), (b, high)] = pair {
            if low.end() > high.base() {
                return Err(GuestRegionError::Overlap {
                    first: *a.min(b),
                    second: *a.max(b),
                    gpa: high.base(),
                });
            }
        }
    }
    Ok(indexed.into_iter().map(|(_, region)| region).collect())
}

/// Calls `each(region, offset in the region, start in the caller's buffer, length)`
/// for every piece of the access of `len` bytes at `gpa`, in order, once `regions`
/// (sorted, not overlapping) are known to cover all of it: a hole refuses the access
/// before any piece.
#[inline]
pub(super) fn for_each_piece<R: Span>(
    regions: &[R],
    gpa: u64,
    len: usize,
    mut each: impl FnMut(&R, u64, usize, usize) -> Result<(), GuestMemoryFault>,
) -> Result<(), GuestMemoryError> {
    if len == 0 {
        return Ok(());
    }
    let end = access_end(gpa, len)?;
    // The first region ending after `gpa`; it holds `gpa` if anything does.
    let first = regions.partition_point(|region| region.end() <= gpa);
    let pieces = regions.get(first..).unwrap_or_default();
    let mut covered = gpa;
    for region in pieces {
        if covered >= end || region.base() > covered {
            break;
        }
        covered = region.end();
    }
    if covered < end {
        return Err(GuestMemoryError::unmapped(gpa, len));
    }
    let mut at = gpa;
    let mut done = 0usize;
    for region in pieces {
        if at >= end {
            break;
        }
        // At most `len - done` bytes, so the cast to usize loses nothing.
        let piece = (region.end().min(end) - at) as usize;
        each(region, at - region.base(), done, piece)
            .map_err(|fault| GuestMemoryError::new(gpa, len, fault))?;
        at += piece as u64;
        done += piece;
    }
    Ok(())
}
