// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! Fault groups and page responses, without a kernel: `FaultQueue::groups` splits
//! what a read returned where the kernel's groups end, and `PageResponse` sends
//! only the two codes the kernel takes.

use iommufd::states::{FaultQueue, PageResponse};
use iommufd::uapi::{
    IOMMUFD_PAGE_RESP_INVALID, IOMMUFD_PAGE_RESP_SUCCESS, IommuHwptPgfault, PgfaultFlags,
};
use proptest::prelude::*;

fn fault(cookie: u32, last: bool) -> IommuHwptPgfault {
    IommuHwptPgfault {
        cookie,
        flags: if last {
            PgfaultFlags::LAST_PAGE.bits()
        } else {
            0
        },
        ..Default::default()
    }
}

#[test]
fn groups_end_at_the_last_page_or_a_new_cookie() {
    let faults = [
        fault(1, false),
        fault(1, true),
        fault(2, true),
        // Two groups that happen to share a cookie value still split at LAST_PAGE.
        fault(3, true),
        fault(3, false),
        fault(3, true),
    ];
    let lens: Vec<_> = FaultQueue::groups(&faults).map(<[_]>::len).collect();
    assert_eq!(lens, [2, 1, 1, 2]);
    assert_eq!(FaultQueue::groups(&[]).count(), 0);
}

#[test]
fn responses_carry_the_cookie_and_one_of_the_two_codes() {
    let f = fault(77, true);
    assert_eq!(PageResponse::success(&f).response().cookie, 77);
    assert_eq!(
        PageResponse::success(&f).response().code,
        IOMMUFD_PAGE_RESP_SUCCESS
    );
    assert_eq!(
        PageResponse::invalid(&f).response().code,
        IOMMUFD_PAGE_RESP_INVALID
    );
    assert_eq!(
        PageResponse::for_cookie(5, true),
        PageResponse::success(&fault(5, false))
    );
    assert_eq!(size_of::<PageResponse>(), 8, "sent as the wire struct");
}

proptest! {
    #[test]
    fn groups_cover_every_fault_in_order(
        shape in proptest::collection::vec((0u32..4, any::<bool>()), 0..32),
    ) {
        let faults: Vec<_> = shape.iter().map(|&(c, last)| fault(c, last)).collect();
        let joined: Vec<_> = FaultQueue::groups(&faults).flatten().copied().collect();
        prop_assert_eq!(joined, faults.clone());
        for group in FaultQueue::groups(&faults) {
            prop_assert!(group.iter().all(|f| f.cookie == group[0].cookie));
            let lasts = group.iter().filter(|f| f.flags != 0).count();
            prop_assert!(lasts <= 1);
            if lasts == 1 {
                prop_assert!(group.last().unwrap().flags != 0);
            }
        }
    }
}
