// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The rig's small VMM: boots an L2 Linux under KVM with the crate's vSMMUv3 in
//! front of a passed-through PCI device, prints the L2 console, and reports what
//! the L2 test program found and what the vSMMU sent to the kernel.
//!
//! ```text
//! vmm --kernel Image --initrd l2.cpio.gz --device /dev/vfio/devices/vfio0 [--one-per-ioctl]
//! ```
//!
//! Exit status 0 when the L2 program exited 0, every check it printed passed, and
//! the teardown left no iommufd object behind.

mod bus;
mod fdt;
mod iommu;
mod kvm;
mod layout;
mod pci;
mod ram;
mod report;
mod uart;
#[path = "../../../tests/shared/vfio_regions.rs"]
mod vfio;

use bus::Bus;
use kvm_ioctls::VcpuExit;
use layout::RAM;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// L2's RAM.
const RAM_SIZE: usize = 256 << 20;
/// Where the initramfs and the device tree go in L2's RAM.
const INITRD_AT: u64 = RAM + (128 << 20);
const FDT_AT: u64 = RAM + RAM_SIZE as u64 - (2 << 20);

struct Args {
    kernel: String,
    initrd: String,
    bench_initrd: Option<String>,
    device: String,
    append: String,
}

fn args() -> Result<Args, String> {
    let mut args = Args {
        kernel: String::new(),
        initrd: String::new(),
        bench_initrd: None,
        device: "/dev/vfio/devices/vfio0".into(),
        append: String::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--kernel" => args.kernel = value()?,
            "--initrd" => args.initrd = value()?,
            "--bench-initrd" => args.bench_initrd = Some(value()?),
            "--device" => args.device = value()?,
            "--append" => args.append = value()?,
            _ => return Err(format!("unknown argument {a}")),
        }
    }
    if args.kernel.is_empty() || args.initrd.is_empty() {
        return Err(
            "usage: vmm --kernel IMAGE --initrd CPIO [--bench-initrd CPIO] [--device PATH]".into(),
        );
    }
    Ok(args)
}

/// How one L2 boot is set up.
#[derive(Clone, Copy)]
struct Mode {
    /// Whether the vSMMU advertises range invalidation (without it, L2's driver
    /// sends a TLBI per page: the bench's many commands per CMD_SYNC).
    range_invalidation: bool,
}

/// Loads the arm64 Image (its header gives the offset from a 2 MiB boundary) and
/// returns its entry point.
fn load_kernel(ram: &ram::GuestRam, image: &[u8]) -> Result<u64, String> {
    let header = image
        .get(..64)
        .ok_or("the kernel image is shorter than its header")?;
    if header[56..60] != *b"ARM\x64" {
        return Err("not an arm64 Image (no ARM\\x64 magic)".into());
    }
    let text_offset = u64::from_le_bytes(header[8..16].try_into().unwrap_or_default());
    let at = RAM + text_offset;
    ram.load(at, image)?;
    Ok(at)
}

/// One L2 boot from `initrd`: whether it passed, and its console.
fn boot(args: &Args, initrd_path: &str, mode: Mode) -> Result<(bool, Vec<String>), String> {
    let started = Instant::now();
    let ram = ram::GuestRam::new(RAM_SIZE).map_err(|e| format!("guest RAM: {e}"))?;
    let image = std::fs::read(&args.kernel).map_err(|e| format!("{}: {e}", args.kernel))?;
    let entry = load_kernel(&ram, &image)?;
    let initrd = std::fs::read(initrd_path).map_err(|e| format!("{initrd_path}: {e}"))?;
    ram.load(INITRD_AT, &initrd)?;
    let cmdline = format!(
        // No ITS, so no MSI isolation: iommufd must be told that is fine.
        "console=ttyS0 earlycon=uart8250,mmio,{:#x} panic=-1 panic_on_warn=1 quiet iommufd.allow_unsafe_interrupts=1 {}",
        layout::UART,
        args.append
    );
    let fdt = fdt::build(&fdt::Boot {
        ram_size: RAM_SIZE as u64,
        cpus: 1,
        cmdline: &cmdline,
        initrd: (INITRD_AT, INITRD_AT + initrd.len() as u64),
    })
    .map_err(|e| format!("device tree: {e}"))?;
    ram.load(FDT_AT, &fdt)?;

    let mut vm = kvm::Vm::new(&ram, 1, entry, FDT_AT).map_err(|e| format!("KVM: {e}"))?;
    let iommu = iommu::Iommu::new(&args.device, &ram, vm.vm.clone(), mode)?;
    let regions = vfio::Regions::new(&iommu.device).map_err(|e| format!("VFIO regions: {e}"))?;
    let bus = Bus::new(
        &vm.vm,
        &iommu.vsmmu,
        pci::PciHost::new(regions),
        &iommu.one_per_ioctl,
    );
    iommu::step(&format!(
        "[4] KVM: 1 vCPU at {entry:#x}, vGICv3, a device tree with a 16550 at {:#x}, the vSMMU at {:#x} (SPIs {}, {}) and a PCIe host at {:#x} whose device 00:00.0 is the VFIO device, iommu-map to the vSMMU",
        layout::UART,
        layout::SMMU,
        32 + layout::SPI_SMMU_EVENTQ,
        32 + layout::SPI_SMMU_GERROR,
        layout::ECAM,
    ));
    println!(
        "vmm: L2 from {initrd_path}: set up in {} ms ({} MiB RAM; range invalidation {})",
        started.elapsed().as_millis(),
        RAM_SIZE >> 20,
        if mode.range_invalidation {
            "advertised"
        } else {
            "not advertised"
        },
    );

    let stop = AtomicBool::new(false);
    let outcome = std::thread::scope(|s| {
        // The vEVENTQ's fd in a poll loop: faults go into L2's event queue.
        s.spawn(|| events(&iommu, &stop));
        let outcome = vcpu_loop(&mut vm.vcpus[0], &bus);
        stop.store(true, Relaxed);
        outcome
    });
    let outcome = outcome?;
    println!(
        "vmm: L2 ended ({outcome}) after {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let lines = bus.console_lines();
    let ok = report::report(&lines, &iommu);
    drop(bus);
    let teardown = report::teardown(iommu);
    drop(vm);
    Ok((ok && teardown, lines))
}

/// The event thread: the vEVENTQ's fd in a poll loop, each event pumped into
/// L2's event queue.
fn events(iommu: &iommu::Iommu, stop: &AtomicBool) {
    let mut buf = [0u8; 64 * iommufd::vsmmu::VEventPump::ENTRY_BYTES];
    while !stop.load(Relaxed) {
        let mut fds = [rustix::event::PollFd::new(
            &iommu.vevents,
            rustix::event::PollFlags::IN,
        )];
        let timeout = rustix::event::Timespec {
            tv_sec: 0,
            tv_nsec: 50_000_000,
        };
        if rustix::event::poll(&mut fds, Some(&timeout)).unwrap_or(0) == 0 {
            continue;
        }
        while let Ok(Some(forwarded)) = iommu.vsmmu.pump_events(&mut buf) {
            if forwarded.is_empty() {
                break;
            }
        }
    }
}

/// The microseconds per round the L2 bench printed.
fn bench_figures(lines: &[String]) -> Option<(u64, u64)> {
    lines.iter().find_map(|l| {
        let rest = l.trim().strip_prefix("BENCH ")?;
        let field = |name: &str| -> Option<u64> {
            let (_, tail) = rest.split_once(name)?;
            tail.split_whitespace().next()?.parse().ok()
        };
        Some((field("per_sync_us ")?, field("per_command_us ")?))
    })
}

fn run() -> Result<bool, String> {
    let args = args()?;
    let tests = Mode {
        range_invalidation: true,
    };
    let (mut ok, _) = boot(&args, &args.initrd, tests)?;
    if let Some(bench) = &args.bench_initrd {
        // L2 switches the sink between its rounds (ABBA): both in this one boot.
        let mode = Mode {
            range_invalidation: false,
        };
        let (passed, lines) = boot(&args, bench, mode)?;
        ok &= passed;
        match bench_figures(&lines) {
            Some((batched, single)) => println!(
                "vmm: bench (TCG, L2 under KVM): median {batched} us per round with one ioctl per CMD_SYNC, {single} us with one command per ioctl: {:.2}x",
                single as f64 / batched.max(1) as f64
            ),
            None => {
                println!("vmm: the bench printed no figure");
                ok = false;
            }
        }
    }
    Ok(ok)
}

/// Runs vCPU 0 until L2 powers off (or resets, or KVM fails).
fn vcpu_loop(vcpu: &mut kvm_ioctls::VcpuFd, bus: &Bus<'_>) -> Result<&'static str, String> {
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        match vcpu.run() {
            Ok(VcpuExit::MmioRead(addr, data)) => bus.read(addr, data),
            Ok(VcpuExit::MmioWrite(addr, data)) => bus.write(addr, data),
            Ok(VcpuExit::SystemEvent(kind, _)) => {
                return Ok(match kind {
                    kvm_bindings::KVM_SYSTEM_EVENT_SHUTDOWN => "power off",
                    kvm_bindings::KVM_SYSTEM_EVENT_RESET => "reset",
                    _ => "system event",
                });
            }
            Ok(exit) => return Err(format!("unexpected vCPU exit: {exit:?}")),
            Err(e) if e.errno() == libc_eintr() => {}
            Err(e) => return Err(format!("KVM_RUN: {e}")),
        }
        if Instant::now() > deadline {
            return Err("L2 ran for 900 s".into());
        }
    }
}

fn libc_eintr() -> i32 {
    rustix::io::Errno::INTR.raw_os_error()
}

fn main() {
    match run() {
        Ok(true) => println!("vmm: PASS"),
        Ok(false) => {
            println!("vmm: FAIL");
            std::process::exit(1);
        }
        Err(e) => {
            println!("vmm: error: {e}");
            std::process::exit(2);
        }
    }
}
