// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! A seccomp filter built only from the crate's lists (`iommufd::seccomp`), as a VMM
//! would build it, and the child process the tests install it in.
//!
//! The filter allows `ioctl` for the listed requests and refuses other requests with
//! EPERM; allows the listed system calls and the few the test process itself needs
//! (memory, signals, exit, and `seccomp` to stack the next filter), and refuses every
//! other call with ENOSYS, so a call the crate makes outside its lists fails the
//! step that made it. Filters stack: a later, narrower one refuses what it leaves
//! out even when an earlier one allowed it, as a VMM's runtime filter does after
//! its boot filter.
//!
//! A filter cannot be removed, so each scenario runs in a child process: the test
//! binary again, running only the entry test with the scenario in
//! [`CHILD_ENV`]. The child prints a marker when its scenario passed; the parent
//! asserts the marker and the exit status.

#![allow(unsafe_code)] // prctl, seccomp, raw ioctls and _exit through libc

use iommufd::seccomp::Syscall;
use rustix::fd::{AsRawFd, BorrowedFd};
use rustix::io::Errno;

/// The environment variable that makes the entry test run a scenario.
pub const CHILD_ENV: &str = "IOMMUFD_SECCOMP_CHILD";

/// `SECCOMP_RET_*` and `AUDIT_ARCH_*` from `linux/seccomp.h` and `linux/audit.h`.
const RET_KILL_PROCESS: u32 = 0x8000_0000;
const RET_ERRNO: u32 = 0x0005_0000;
const RET_ALLOW: u32 = 0x7fff_0000;
#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xc000_003e;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xc000_00b7;
const SECCOMP_SET_MODE_FILTER: libc::c_ulong = 1;

/// Offsets in `struct seccomp_data`: `nr`, `arch`, `args[1]` (little-endian words).
const NR: u32 = 0;
const ARCH: u32 = 4;
const ARG1_LO: u32 = 16 + 8;
const ARG1_HI: u32 = 16 + 8 + 4;

/// What the test process needs besides the crate: the allocator, panics and their
/// messages, thread and process exit, and `seccomp` to stack the runtime filter.
/// Nothing here is a call the crate's lists leave out on purpose (no open, read,
/// close or ioctl).
pub fn harness_syscalls() -> Vec<i64> {
    vec![
        libc::SYS_write,
        libc::SYS_exit,
        libc::SYS_exit_group,
        libc::SYS_brk,
        libc::SYS_mmap,
        libc::SYS_munmap,
        libc::SYS_mremap,
        libc::SYS_mprotect,
        libc::SYS_madvise,
        libc::SYS_rt_sigprocmask,
        libc::SYS_rt_sigaction,
        libc::SYS_rt_sigreturn,
        libc::SYS_sigaltstack,
        libc::SYS_sched_yield,
        libc::SYS_getrandom,
        libc::SYS_clock_gettime,
        libc::SYS_gettid,
        libc::SYS_getpid,
        libc::SYS_tgkill,
        libc::SYS_seccomp,
    ]
}

fn stmt(code: u16, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

/// `if A == k { next } else { skip one }`.
fn jeq_next(k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
        jt: 0,
        jf: 1,
        k,
    }
}

fn load(offset: u32) -> libc::sock_filter {
    stmt((libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16, offset)
}

fn ret(action: u32) -> libc::sock_filter {
    stmt((libc::BPF_RET | libc::BPF_K) as u16, action)
}

/// The filter: `syscalls` (the crate's list) and `extra` (the harness's) allowed,
/// `ioctl` (if listed) only for `requests`.
pub fn program(syscalls: &[Syscall], extra: &[i64], requests: &[u64]) -> Vec<libc::sock_filter> {
    let ioctl_listed = syscalls.contains(&Syscall::Ioctl);
    let mut allowed: Vec<i64> = syscalls
        .iter()
        .filter(|&&s| s != Syscall::Ioctl)
        .filter_map(|s| s.number())
        .chain(extra.iter().copied())
        .collect();
    allowed.sort_unstable();
    allowed.dedup();

    let mut p = vec![
        load(ARCH),
        libc::sock_filter {
            code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
            jt: 1,
            jf: 0,
            k: AUDIT_ARCH,
        },
        ret(RET_KILL_PROCESS),
        load(NR),
    ];
    let mut jump_to_ioctl = None;
    if ioctl_listed {
        let nr = Syscall::Ioctl.number().expect("ioctl has a number here") as u32;
        p.push(jeq_next(nr));
        jump_to_ioctl = Some(p.len());
        p.push(stmt((libc::BPF_JMP | libc::BPF_JA) as u16, 0)); // patched below
    }
    for nr in allowed {
        p.push(jeq_next(nr as u32));
        p.push(ret(RET_ALLOW));
    }
    p.push(ret(RET_ERRNO | libc::ENOSYS as u32));
    if let Some(at) = jump_to_ioctl {
        p[at].k = (p.len() - at - 1) as u32;
        // The kernel's ioctl takes an `unsigned int` request: a non-zero high word is
        // no request of ours.
        p.push(load(ARG1_HI));
        p.push(libc::sock_filter {
            code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
            jt: 1,
            jf: 0,
            k: 0,
        });
        p.push(ret(RET_ERRNO | libc::EPERM as u32));
        p.push(load(ARG1_LO));
        for &request in requests {
            p.push(jeq_next(
                u32::try_from(request).expect("requests fit 32 bits"),
            ));
            p.push(ret(RET_ALLOW));
        }
        p.push(ret(RET_ERRNO | libc::EPERM as u32));
    }
    p
}

/// Installs the filter on the calling thread (and what it starts), after setting
/// `no_new_privs`. A kernel without seccomp filters is an error that says so.
pub fn install(syscalls: &[Syscall], requests: &[u64]) -> Result<(), String> {
    let mut filter = program(syscalls, &harness_syscalls(), requests);
    let prog = libc::sock_fprog {
        len: u16::try_from(filter.len()).expect("a short program"),
        filter: filter.as_mut_ptr(),
    };
    // Set once, before the first filter (which does not allow prctl).
    static NO_NEW_PRIVS: std::sync::Once = std::sync::Once::new();
    let mut result = Ok(());
    NO_NEW_PRIVS.call_once(|| {
        // SAFETY: prctl with integer arguments only.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            let e = std::io::Error::last_os_error();
            result = Err(format!("prctl(PR_SET_NO_NEW_PRIVS): {e}"));
        }
    });
    result?;
    // SAFETY: `prog` points to `filter`, alive for the call; the kernel copies it.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_SET_MODE_FILTER,
            0 as libc::c_ulong,
            &prog as *const libc::sock_fprog,
        )
    };
    if rc != 0 {
        let e = std::io::Error::last_os_error();
        return Err(match e.raw_os_error() {
            Some(libc::ENOSYS) | Some(libc::EINVAL) => format!(
                "the kernel cannot install seccomp filters ({e}): it needs CONFIG_SECCOMP \
                 and CONFIG_SECCOMP_FILTER (which needs CONFIG_NET); in the rig, \
                 rig/config/x86_64.options lists them and rig/build-kernel.sh rebuilds"
            ),
            _ => format!("seccomp(SECCOMP_SET_MODE_FILTER): {e}"),
        });
    }
    Ok(())
}

/// An ioctl with `request` and a zeroed argument buffer: the errno, or `None`.
pub fn raw_ioctl(fd: BorrowedFd<'_>, request: u64) -> Option<Errno> {
    let mut buf = [0u64; 32];
    // SAFETY: the buffer outlives the call and is large enough for any of the
    // crate's structs; on the fds the tests use, no request reaches a driver that
    // would follow a pointer in it.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), request as _, buf.as_mut_ptr()) };
    (rc < 0)
        .then(|| Errno::from_raw_os_error(std::io::Error::last_os_error().raw_os_error().unwrap()))
}

/// The scenario this process runs as a child, if any.
pub fn scenario() -> Option<String> {
    std::env::var(CHILD_ENV).ok()
}

fn marker(scenario: &str) -> String {
    format!("iommufd-seccomp-child: {scenario} passed")
}

/// Runs `body` as the child's scenario and ends the process: status 0 with the
/// marker, 1 on a panic. Never returns to the harness, which the filter would stop.
pub fn run_scenario(scenario: &str, body: impl FnOnce() + std::panic::UnwindSafe) -> ! {
    let status = match std::panic::catch_unwind(body) {
        Ok(()) => {
            eprintln!("{}", marker(scenario));
            0
        }
        Err(_) => 1,
    };
    // SAFETY: ends the process at once; nothing needs to run after the scenario.
    unsafe { libc::_exit(status) }
}

/// Runs the test binary again as a child that runs only `test` (its harness name)
/// with `scenario`, and asserts that the scenario passed.
#[track_caller]
pub fn run_child(test: &str, scenario: &str) {
    let exe = std::env::current_exe().expect("the test binary's path");
    let out = std::process::Command::new(exe)
        .args([
            "--exact",
            test,
            "--include-ignored",
            "--test-threads=1",
            "--nocapture",
        ])
        .env(CHILD_ENV, scenario)
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("the child test process");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let passed = out.status.success() && stderr.contains(&marker(scenario));
    assert!(
        passed,
        "seccomp scenario {scenario:?} failed ({status}; signal {signal:?}, 31 is SIGSYS: a \
         call outside the filter's architecture):\n--- stderr ---\n{stderr}\n--- stdout \
         ---\n{stdout}",
        status = out.status,
        signal = std::os::unix::process::ExitStatusExt::signal(&out.status),
    );
}

/// The entry test's harness name: its module path without the test crate's name.
pub fn entry_name(module_path: &str, function: &str) -> String {
    let module = module_path.split_once("::").map_or("", |(_, rest)| rest);
    if module.is_empty() {
        function.to_owned()
    } else {
        format!("{module}::{function}")
    }
}
