// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! SMMUv3 event records (SMMUv3 spec, section 7.3) as the kernel forwards them on a
//! vEVENTQ: 32 bytes, StreamID already translated to the guest's (the vDEVICE's
//! virtual id).

use crate::uapi::IommuVeventArmSmmuv3;

/// Event ids the spec defines (`EVENT_ID`, bits 7:0 of the first word).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventId {
    /// 0x01 F_UUT: unsupported upstream transaction.
    UnsupportedTransaction,
    /// 0x02 C_BAD_STREAMID.
    BadStreamId,
    /// 0x03 F_STE_FETCH.
    SteFetch,
    /// 0x04 C_BAD_STE.
    BadSte,
    /// 0x05 F_BAD_ATS_TREQ.
    BadAtsTranslationRequest,
    /// 0x06 F_STREAM_DISABLED.
    StreamDisabled,
    /// 0x07 F_TRANSL_FORBIDDEN.
    TranslationForbidden,
    /// 0x08 C_BAD_SUBSTREAMID.
    BadSubstreamId,
    /// 0x09 F_CD_FETCH.
    CdFetch,
    /// 0x0a C_BAD_CD.
    BadCd,
    /// 0x0b F_WALK_EABT.
    WalkExternalAbort,
    /// 0x10 F_TRANSLATION.
    Translation,
    /// 0x11 F_ADDR_SIZE.
    AddressSize,
    /// 0x12 F_ACCESS.
    Access,
    /// 0x13 F_PERMISSION.
    Permission,
    /// 0x20 F_TLB_CONFLICT.
    TlbConflict,
    /// 0x21 F_CFG_CONFLICT.
    ConfigConflict,
    /// 0x24 E_PAGE_REQUEST.
    PageRequest,
    /// 0x25 F_VMS_FETCH.
    VmsFetch,
    /// Any other value.
    Other(u8),
}

impl From<u8> for EventId {
    fn from(id: u8) -> Self {
        match id {
            0x01 => EventId::UnsupportedTransaction,
            0x02 => EventId::BadStreamId,
            0x03 => EventId::SteFetch,
            0x04 => EventId::BadSte,
            0x05 => EventId::BadAtsTranslationRequest,
            0x06 => EventId::StreamDisabled,
            0x07 => EventId::TranslationForbidden,
            0x08 => EventId::BadSubstreamId,
            0x09 => EventId::CdFetch,
            0x0a => EventId::BadCd,
            0x0b => EventId::WalkExternalAbort,
            0x10 => EventId::Translation,
            0x11 => EventId::AddressSize,
            0x12 => EventId::Access,
            0x13 => EventId::Permission,
            0x20 => EventId::TlbConflict,
            0x21 => EventId::ConfigConflict,
            0x24 => EventId::PageRequest,
            0x25 => EventId::VmsFetch,
            other => EventId::Other(other),
        }
    }
}

/// A decoded SMMUv3 event record. The fault fields are meaningful for the
/// translation-fault events (F_TRANSLATION, F_ADDR_SIZE, F_ACCESS, F_PERMISSION);
/// [`raw`](Self::raw) keeps every bit for the guest's event queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// The event id.
    pub id: EventId,
    /// The guest's StreamID (the vDEVICE's virtual id).
    pub stream_id: u32,
    /// The SubstreamID, when valid (SSV).
    pub substream_id: Option<u32>,
    /// The access was a read (RnW).
    pub read: bool,
    /// The fault came from stage 2 (S2); never forwarded by Linux 7.3.
    pub stage2: bool,
    /// The input address of the faulting access.
    pub input_address: u64,
    /// The intermediate physical address, for stage-2 faults.
    pub ipa: u64,
    /// The record's four words as the hardware wrote them.
    pub raw: [u64; 4],
}

const SSV: u64 = 1 << 11;
const RNW: u64 = 1 << 35;
const S2: u64 = 1 << 39;
const IPA_MASK: u64 = ((1 << 52) - 1) & !0xfff;

impl Event {
    /// Decodes a record. Never fails: every bit pattern is some record.
    pub fn decode(record: &IommuVeventArmSmmuv3) -> Self {
        let raw = record.evt.map(|w| w.get());
        Event {
            id: EventId::from((raw[0] & 0xff) as u8),
            stream_id: (raw[0] >> 32) as u32,
            substream_id: (raw[0] & SSV != 0).then_some(((raw[0] >> 12) & 0xf_ffff) as u32),
            read: raw[1] & RNW != 0,
            stage2: raw[1] & S2 != 0,
            input_address: raw[2],
            ipa: raw[3] & IPA_MASK,
            raw,
        }
    }
}

impl From<&IommuVeventArmSmmuv3> for Event {
    fn from(record: &IommuVeventArmSmmuv3) -> Self {
        Event::decode(record)
    }
}
