// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The L2 guest's test program (its /test-binary): uses the L2 kernel's own
//! arm-smmu-v3 driver, which drives the VMM's vSMMU, through iommufd and VFIO
//! inside L2 with QEMU's edu device as the DMA engine. It prints one
//! `CHECK name: ok` (or `CHECK name: FAIL why`) line per claim; the VMM counts
//! them.
//!
//! - `probe`: the L2 driver probed the vSMMU (its kernel log names the features).
//! - `dma`: edu's DMA through L2's stage 1 (an IOAS mapping in L2) and L1's stage 2
//!   lands in the page L2 mapped.
//! - `remap`: after an unmap (TLBIs and a CMD_SYNC from L2's driver) and a new
//!   mapping of the same IOVA, the next DMA follows the new mapping.
//! - `fault`: a DMA to an IOVA L2 never mapped reaches L2's kernel log as an SMMU
//!   event with the device's StreamID (0x42: the VMM's `iommu-map` base).
//!
//! With `bench ROUNDS PAGES`, it times ROUNDS rounds of mapping PAGES pages and
//! unmapping them at once, and prints the time per round.

#[path = "../../../../tests/shared/edu.rs"]
mod edu;
#[path = "../../../../tests/shared/vfio_regions.rs"]
#[allow(dead_code)]
mod vfio;

use edu::{EDU_BUFFER, Edu};

use iommufd::states::IoasReady;
use iommufd::{Access, Device, IommuFd, Iova, MapAt, VfioDevice, VfioUnbound};
use rustix::fd::{AsFd, OwnedFd};
use std::io::Read;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PAGE: u64 = 4096;
/// IOVAs of the test: a source page, the target, and one never mapped.
const IOVA_SRC: u64 = 0x10_0000;
const IOVA_DST: u64 = 0x20_0000;
const IOVA_UNMAPPED: u64 = 0x90_0000;
const PATTERN: [u8; 4] = [0xa5, 0x5a, 0xc3, 0x3c];

/// L2 memory pages the IOAS maps: a memfd this program also reads.
struct Pages {
    file: std::fs::File,
    memfd: OwnedFd,
}

impl Pages {
    fn new(count: u64) -> Self {
        let memfd = rustix::fs::memfd_create("l2-dma", rustix::fs::MemfdFlags::CLOEXEC).unwrap();
        rustix::fs::ftruncate(&memfd, count * PAGE).unwrap();
        let file = std::fs::File::from(memfd.try_clone().unwrap());
        Self { file, memfd }
    }

    fn write(&self, page: u64, data: &[u8]) {
        self.file.write_all_at(data, page * PAGE).unwrap();
    }

    fn read4(&self, page: u64) -> [u8; 4] {
        let mut b = [0u8; 4];
        self.file.read_exact_at(&mut b, page * PAGE).unwrap();
        b
    }
}

/// The kernel log so far, without waiting for more.
fn kernel_log() -> String {
    let mut log = String::new();
    let Ok(mut file) = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open("/dev/kmsg")
    else {
        return log;
    };
    let mut record = [0u8; 8192];
    // Each read returns one record; EAGAIN at the end.
    while let Ok(n) = file.read(&mut record) {
        if n == 0 {
            break;
        }
        let text = String::from_utf8_lossy(&record[..n]);
        if let Some((_, message)) = text.split_once(';') {
            log.push_str(message);
        }
    }
    log
}

fn check(name: &str, result: Result<(), String>) -> bool {
    match &result {
        Ok(()) => println!("CHECK {name}: ok"),
        Err(why) => println!("CHECK {name}: FAIL {why}"),
    }
    result.is_ok()
}

fn first_vfio_device() -> String {
    let mut paths: Vec<String> = std::fs::read_dir("/dev/vfio/devices")
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path().display().to_string()))
                .collect()
        })
        .unwrap_or_default();
    paths.sort();
    paths.into_iter().next().unwrap_or_default()
}

struct Setup {
    edu: Edu,
    ioas: IoasReady,
    _dev: VfioDevice,
    pages: Pages,
}

fn setup() -> Result<Setup, String> {
    let path = first_vfio_device();
    let fd = Arc::new(IommuFd::open().map_err(|e| format!("/dev/iommu: {e}"))?);
    let ioas = IoasReady::new(&fd).map_err(|e| format!("IOAS: {e}"))?;
    let dev = VfioUnbound::open(&path)
        .map_err(|e| format!("{path}: {e}"))?
        .bind(&fd)
        .map_err(|e| format!("bind: {}", e.into_parts().1))?;
    dev.attach(ioas.id().into())
        .map_err(|e| format!("attach to the IOAS: {e}"))?;
    let edu = Edu::new(&dev);
    Ok(Setup {
        edu,
        ioas,
        _dev: dev,
        pages: Pages::new(64),
    })
}

impl Setup {
    fn map(&self, iova: u64, page: u64) -> Result<(), String> {
        self.ioas
            .map_file(
                self.pages.memfd.as_fd(),
                page * PAGE,
                PAGE,
                MapAt::Fixed(Iova(iova)),
                Access::READ | Access::WRITE,
            )
            .map(|_| ())
            .map_err(|e| format!("map {iova:#x}: {e}"))
    }

    fn unmap(&self, iova: u64, len: u64) -> Result<(), String> {
        self.ioas
            .unmap(Iova(iova), len)
            .map(|_| ())
            .map_err(|e| format!("unmap {iova:#x}: {e}"))
    }

    /// edu copies its buffer to `iova`; which of `pages` got the pattern.
    fn lands(&self, iova: u64, pages: &[u64]) -> Result<Option<u64>, String> {
        for &p in pages {
            self.pages.write(p, &[0; 4]);
        }
        if !self.edu.try_dma(EDU_BUFFER, iova, 4) {
            return Err("edu's DMA never finished".into());
        }
        Ok(pages
            .iter()
            .copied()
            .find(|&p| self.pages.read4(p) == PATTERN))
    }
}

fn probe() -> Result<(), String> {
    let log = kernel_log();
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("arm-smmu-v3")).collect();
    for l in &lines {
        println!("  {l}");
    }
    if lines.iter().any(|l| l.contains("features 0x")) {
        Ok(())
    } else {
        Err("no arm-smmu-v3 probe line with its features in the kernel log".into())
    }
}

fn dma(s: &Setup) -> Result<(), String> {
    // The pattern into page 0, read by edu through IOVA_SRC into its buffer.
    s.pages.write(0, &PATTERN);
    s.map(IOVA_SRC, 0)?;
    if !s.edu.try_dma(IOVA_SRC, EDU_BUFFER, 4) {
        return Err("edu's read never finished".into());
    }
    s.map(IOVA_DST, 1)?;
    match s.lands(IOVA_DST, &[1, 2])? {
        Some(1) => Ok(()),
        other => Err(format!(
            "the DMA to {IOVA_DST:#x} landed in {other:?}, not page 1"
        )),
    }
}

fn remap(s: &Setup) -> Result<(), String> {
    s.unmap(IOVA_DST, PAGE)?;
    s.map(IOVA_DST, 2)?;
    match s.lands(IOVA_DST, &[1, 2])? {
        Some(2) => Ok(()),
        other => Err(format!(
            "after the remap the DMA landed in {other:?}, not page 2 (a stale translation?)"
        )),
    }
}

fn fault(s: &Setup) -> Result<(), String> {
    let before = kernel_log().matches("F_TRANSLATION").count();
    if s.lands(IOVA_UNMAPPED, &[0, 1, 2])?.is_some() {
        return Err("a DMA to an unmapped IOVA reached memory".into());
    }
    let want = format!("iova: {IOVA_UNMAPPED:#x}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let log = kernel_log();
        let events: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("F_TRANSLATION"))
            .collect();
        if events.len() > before {
            let line = events.last().copied().unwrap_or_default();
            println!("  {line}");
            return if line.contains("sid: 0x42 ") && line.contains(&want) {
                Ok(())
            } else {
                Err(format!("the event names another stream or address: {line}"))
            };
        }
        if Instant::now() > deadline {
            return Err("no SMMU event in L2's kernel log".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Asks the VMM for a sink (its UART watches for the line) and waits until the
/// line has left the UART.
fn bench_mode(per_command: bool) -> Result<(), String> {
    let mode = if per_command {
        "per-command"
    } else {
        "per-sync"
    };
    println!("BENCH-MODE {mode}");
    rustix::termios::tcdrain(std::io::stdout()).map_err(|e| format!("tcdrain: {e}"))
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn bench(s: &Setup, rounds: u32, pages: u64) -> Result<(), String> {
    // One mapping of `pages` pages, unmapped at once: one CMD_SYNC with a TLBI per
    // page (no range invalidation is advertised for the bench). Rounds alternate
    // the VMM's sink ABBA, so drift in the emulator hits both alike.
    let base = 0x100_0000;
    let (mut per_sync, mut per_command) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let single = matches!(round % 4, 1 | 2);
        bench_mode(single)?;
        let start = Instant::now();
        s.ioas
            .map_file(
                s.pages.memfd.as_fd(),
                0,
                pages * PAGE,
                MapAt::Fixed(Iova(base)),
                Access::READ | Access::WRITE,
            )
            .map_err(|e| format!("map {pages} pages: {e}"))?;
        s.unmap(base, pages * PAGE)?;
        let took = start.elapsed();
        if single {
            &mut per_command
        } else {
            &mut per_sync
        }
        .push(took);
    }
    bench_mode(false)?;
    println!(
        "BENCH rounds {rounds} pages {pages} per_sync_us {} per_command_us {}",
        median(per_sync).as_micros(),
        median(per_command).as_micros()
    );
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut ok = check("probe", probe());
    let s = match setup() {
        Ok(s) => s,
        Err(e) => {
            check("setup", Err(e));
            std::process::exit(1);
        }
    };
    if let [mode, rounds, pages] = args.as_slice() {
        if mode == "bench" {
            let rounds = rounds.parse().unwrap_or(1);
            let pages = pages.parse().unwrap_or(1);
            ok &= check("bench", bench(&s, rounds, pages));
        }
    } else {
        ok &= check("dma", dma(&s));
        ok &= check("remap", remap(&s));
        ok &= check("fault", fault(&s));
    }
    drop(s);
    std::process::exit(if ok { 0 } else { 1 });
}
