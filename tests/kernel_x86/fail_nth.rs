// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The kernel's per-thread fault injection (`/proc/thread-self/fail-nth`): the n-th
//! fault-injection site this thread reaches after arming fails.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::sync::Once;

/// Lets every allocation be injected and quiets the log, once per boot.
pub fn configure() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let write = |path: &str, value: &str| {
            if let Ok(mut f) = OpenOptions::new().write(true).open(path) {
                let _ = f.write_all(value.as_bytes());
            }
        };
        write("/sys/kernel/debug/failslab/ignore-gfp-wait", "N");
        write("/sys/kernel/debug/fail_page_alloc/ignore-gfp-wait", "N");
        write("/sys/kernel/debug/fail_page_alloc/ignore-gfp-highmem", "N");
        for name in ["failslab", "fail_page_alloc", "fail_iommufd"] {
            write(&format!("/sys/kernel/debug/{name}/verbose"), "0");
        }
    });
}

/// Runs `attempt` with the n-th injection site failing, for n = 1, 2, ... until an
/// attempt runs without reaching the n-th site. `setup` builds fresh state (not
/// injected) for each attempt; `check` sees each attempt's result and whether an
/// injection fired. Returns how many attempts had a failure injected.
pub fn sweep<S, R>(
    mut setup: impl FnMut() -> S,
    mut attempt: impl FnMut(S) -> R,
    mut check: impl FnMut(R, bool),
) -> u32 {
    configure();
    // One fd for the whole sweep, positional I/O only (the file does not seek, and
    // opening it anew while armed would itself be injected).
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/proc/thread-self/fail-nth")
        .expect("the kernel tier's kernel has CONFIG_FAULT_INJECTION (fail-nth)");
    for n in 1..2000u32 {
        let state = setup();
        file.write_at(n.to_string().as_bytes(), 0)
            .expect("fail-nth takes a count");
        let result = attempt(state);
        // "0" once the n-th site failed; the read can itself be refused then.
        let mut left = [0u8; 16];
        let fired = match file.read_at(&mut left, 0) {
            Ok(len) => std::str::from_utf8(&left[..len]).map(str::trim) == Ok("0"),
            Err(_) => true,
        };
        // Disarming can fail once with EFAULT too; the second try takes.
        if file.write_at(b"0", 0).is_err() {
            file.write_at(b"0", 0).expect("cannot disarm fail-nth");
        }
        check(result, fired);
        if !fired {
            return n - 1;
        }
    }
    panic!("more than 2000 injection sites: raise the limit");
}
