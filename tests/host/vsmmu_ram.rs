// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! A small guest RAM for the vSMMU tests: one contiguous range of bytes, with holes
//! that fault, so every access path of the stream table and event queue can fail.

use iommufd::vsmmu::{GuestMemory, GuestMemoryError, GuestMemoryFault};
use std::ops::Range;
use std::sync::Mutex;

/// Guest RAM at `[base, base + len)`; accesses touching a hole or leaving the range
/// fail whole, naming the access.
#[derive(Debug)]
pub struct Ram {
    base: u64,
    bytes: Mutex<Vec<u8>>,
    holes: Vec<Range<u64>>,
}

impl Ram {
    pub fn new(base: u64, len: usize) -> Self {
        Self {
            base,
            bytes: Mutex::new(vec![0; len]),
            holes: Vec::new(),
        }
    }

    /// RAM whose contents are `bytes`.
    pub fn with_bytes(base: u64, bytes: Vec<u8>) -> Self {
        Self {
            base,
            bytes: Mutex::new(bytes),
            holes: Vec::new(),
        }
    }

    /// Makes `[start, end)` fault.
    pub fn hole(mut self, range: Range<u64>) -> Self {
        self.holes.push(range);
        self
    }

    fn range(&self, gpa: u64, len: usize) -> Result<Range<usize>, GuestMemoryError> {
        let fault = GuestMemoryError {
            gpa,
            len,
            fault: GuestMemoryFault::Unmapped,
        };
        let end = gpa.checked_add(len as u64).ok_or(fault)?;
        if self.holes.iter().any(|h| gpa < h.end && h.start < end) {
            return Err(fault);
        }
        let size = self.bytes.lock().unwrap().len() as u64;
        let start = gpa.checked_sub(self.base).ok_or(fault)?;
        if start + len as u64 > size {
            return Err(fault);
        }
        Ok(start as usize..start as usize + len)
    }

    /// Stores `data` at `gpa` (test setup; panics outside the RAM).
    pub fn put(&self, gpa: u64, data: &[u8]) {
        let r = (gpa - self.base) as usize;
        self.bytes.lock().unwrap()[r..r + data.len()].copy_from_slice(data);
    }

    /// Stores little-endian words at `gpa`.
    pub fn put_words(&self, gpa: u64, words: &[u64]) {
        for (i, w) in words.iter().enumerate() {
            self.put(gpa + 8 * i as u64, &w.to_le_bytes());
        }
    }

    /// The `N` bytes at `gpa` (test check; panics outside the RAM).
    pub fn get<const N: usize>(&self, gpa: u64) -> [u8; N] {
        let r = (gpa - self.base) as usize;
        let mut out = [0; N];
        out.copy_from_slice(&self.bytes.lock().unwrap()[r..r + N]);
        out
    }
}

impl GuestMemory for Ram {
    fn read(&self, gpa: u64, buf: &mut [u8]) -> Result<(), GuestMemoryError> {
        let r = self.range(gpa, buf.len())?;
        buf.copy_from_slice(&self.bytes.lock().unwrap()[r]);
        Ok(())
    }

    fn write(&self, gpa: u64, data: &[u8]) -> Result<(), GuestMemoryError> {
        let r = self.range(gpa, data.len())?;
        self.bytes.lock().unwrap()[r].copy_from_slice(data);
        Ok(())
    }
}
