// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! [`EventRecord`]: one 32-byte entry of the guest's event queue (IHI 0070, §7.3),
//! built by the model for its own events or passed through from the kernel.

use crate::arch::smmuv3::{Event, EventId};
use crate::uapi::IommuVeventArmSmmuv3;
use zerocopy::little_endian::U64;

/// Word 0, EVENT_ID, bits 7:0 (every record, §7.3).
const ID_MASK: u64 = 0xff;
/// Word 0, StreamID, bits 63:32 (every record, §7.3).
const SID_SHIFT: u32 = 32;
/// Word 3, F_STE_FETCH's FetchAddr, bits 51:3 (record bits 243:195, §7.3.4; Linux's
/// `EVTQ_3_FETCH_ADDR`). Bits 2:0 of the address are not reported.
const FETCH_ADDR: u64 = ((1 << 52) - 1) & !0x7;

/// C_BAD_STREAMID.
const C_BAD_STREAMID: u8 = 0x02;
/// F_STE_FETCH.
const F_STE_FETCH: u8 = 0x03;
/// C_BAD_STE.
const C_BAD_STE: u8 = 0x04;

/// An event queue record: four 64-bit words, stored little-endian in guest memory.
///
/// The model's own events come from the builders, which fill the fields the spec
/// gives each record and leave the rest zero (SSV = 0: the lookups the model makes
/// are for a StreamID, never a SubstreamID). Records from the kernel's vEVENTQ pass
/// through unchanged ([`From<IommuVeventArmSmmuv3>`]): the kernel already put the
/// guest's StreamID (the vDEVICE's virtual id) in them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct EventRecord {
    words: [u64; 4],
}

impl EventRecord {
    /// Bytes of a record in the queue.
    pub const SIZE: usize = 32;

    /// A record from its four words.
    pub const fn from_words(words: [u64; 4]) -> Self {
        Self { words }
    }

    /// The four words.
    pub const fn words(&self) -> [u64; 4] {
        self.words
    }

    /// A record from its 32 little-endian bytes.
    pub fn from_bytes(bytes: [u8; Self::SIZE]) -> Self {
        let mut words = [0u64; 4];
        for (word, chunk) in words.iter_mut().zip(bytes.chunks_exact(8)) {
            let mut le = [0u8; 8];
            le.copy_from_slice(chunk);
            *word = u64::from_le_bytes(le);
        }
        Self { words }
    }

    /// The 32 bytes written to guest memory.
    pub fn to_bytes(&self) -> [u8; Self::SIZE] {
        let mut bytes = [0u8; Self::SIZE];
        for (chunk, word) in bytes.chunks_exact_mut(8).zip(self.words) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        bytes
    }

    const fn with_id(id: u8, sid: u32) -> Self {
        Self {
            words: [((sid as u64) << SID_SHIFT) | id as u64, 0, 0, 0],
        }
    }

    /// C_BAD_STREAMID (0x02, §7.3.3): `sid` is out of the Stream table's range or
    /// its level-1 descriptor does not cover it.
    pub const fn bad_stream_id(sid: u32) -> Self {
        Self::with_id(C_BAD_STREAMID, sid)
    }

    /// F_STE_FETCH (0x03, §7.3.4): fetching the STE (or level-1 descriptor) of
    /// `sid` at guest physical `fetch_addr` faulted. FetchAddr keeps bits 51:3.
    pub const fn ste_fetch(sid: u32, fetch_addr: u64) -> Self {
        let mut record = Self::with_id(F_STE_FETCH, sid);
        record.words[3] = fetch_addr & FETCH_ADDR;
        record
    }

    /// C_BAD_STE (0x04, §7.3.5): the STE of `sid` is one the model (the kernel)
    /// refuses.
    pub const fn bad_ste(sid: u32) -> Self {
        Self::with_id(C_BAD_STE, sid)
    }

    /// EVENT_ID.
    pub fn id(&self) -> EventId {
        EventId::from((self.words[0] & ID_MASK) as u8)
    }

    /// The StreamID (the guest's).
    pub const fn stream_id(&self) -> u32 {
        (self.words[0] >> SID_SHIFT) as u32
    }

    /// F_STE_FETCH's FetchAddr (word 3, bits 51:3); meaningless for other events.
    pub const fn fetch_address(&self) -> u64 {
        self.words[3] & FETCH_ADDR
    }

    /// The record decoded.
    pub fn decode(&self) -> Event {
        Event::decode(&IommuVeventArmSmmuv3::from(*self))
    }
}

impl From<IommuVeventArmSmmuv3> for EventRecord {
    fn from(vevent: IommuVeventArmSmmuv3) -> Self {
        Self::from(&vevent)
    }
}

impl From<&IommuVeventArmSmmuv3> for EventRecord {
    fn from(vevent: &IommuVeventArmSmmuv3) -> Self {
        Self {
            words: vevent.evt.map(|w| w.get()),
        }
    }
}

impl From<EventRecord> for IommuVeventArmSmmuv3 {
    fn from(record: EventRecord) -> Self {
        IommuVeventArmSmmuv3 {
            evt: record.words.map(U64::new),
        }
    }
}
