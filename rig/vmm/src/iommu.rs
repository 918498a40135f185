// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The vSMMU the L2 guest sees, built on the crate's public API only: the IOAS
//! holding guest RAM (stage 2), the nest-parent HWPT, the vIOMMU with its
//! vEVENTQ, the passed-through device bound as a vDEVICE, and `vsmmu::VSmmu` over
//! them. The invalidation sink counts what goes to the kernel, and can send one
//! command per ioctl instead of one ioctl per CMD_SYNC (the comparison's switch).

use crate::layout::*;
use crate::ram::GuestRam;
use iommufd::arch::Smmuv3;
use iommufd::arch::smmuv3::SmmuCaps;
use iommufd::batch::{InvalidationBatch, InvalidationSink};
use iommufd::states::{IoasReady, VIommuAllocated};
use iommufd::uapi::{IommuHwInfoArmSmmuv3, IommuViommuArmSmmuv3Invalidate};
use iommufd::vsmmu::{
    Devices, FileRegion, Interrupt, Interrupts, MappedGuestMemory, Registers, VEventPump, VSmmu,
    VsmmuConfig,
};
use iommufd::{Access, Device, IommuFd, Iova, MapAt, VfioDevice, VfioUnbound};
use kvm_ioctls::VmFd;
use rustix::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

/// What went to the kernel's IOMMU_HWPT_INVALIDATE.
#[derive(Default)]
pub struct Counters {
    pub ioctls: AtomicU64,
    pub commands: AtomicU64,
}

/// The vIOMMU as the batch's sink, counting ioctls and commands.
pub struct CountingSink {
    viommu: VIommuAllocated<Smmuv3>,
    /// One command per ioctl instead of one ioctl per CMD_SYNC (the bench's
    /// switch, which L2 flips through its console).
    one_per_ioctl: Arc<AtomicBool>,
    counters: Arc<Counters>,
}

impl InvalidationSink for CountingSink {
    type Family = Smmuv3;

    fn submit(&self, entries: &[IommuViommuArmSmmuv3Invalidate]) -> iommufd::Result<()> {
        if !self.one_per_ioctl.load(Relaxed) {
            self.counters.ioctls.fetch_add(1, Relaxed);
            self.counters
                .commands
                .fetch_add(entries.len() as u64, Relaxed);
            return self.viommu.submit(entries);
        }
        for (k, entry) in entries.iter().enumerate() {
            self.counters.ioctls.fetch_add(1, Relaxed);
            self.counters.commands.fetch_add(1, Relaxed);
            if let Err(e) = self.viommu.submit(core::slice::from_ref(entry)) {
                // Entry k failed alone: the ones before it ran.
                return Err(match (k, e) {
                    (0, e) => e,
                    (_, iommufd::Error::Invalidation { errno, .. }) => {
                        iommufd::Error::Invalidation {
                            errno,
                            refused: Some(k as u32),
                            completed: 0,
                            requested: entries.len() as u32,
                        }
                    }
                    (_, e) => e,
                });
            }
        }
        Ok(())
    }
}

/// The vSMMU's interrupts as edge-triggered SPIs.
pub struct Spis(pub Arc<VmFd>);

impl Interrupts for Spis {
    fn raise(&self, which: Interrupt) {
        let spi = match which {
            Interrupt::EventQueue => SPI_SMMU_EVENTQ,
            Interrupt::GlobalError => SPI_SMMU_GERROR,
            Interrupt::CmdSync => SPI_SMMU_CMD_SYNC,
        };
        crate::kvm::pulse_spi(&self.0, spi);
    }

    fn msi(&self, _: u64, _: u32) {
        // No MSIs are advertised (IDR0.MSI = 0): the guest cannot program one.
    }
}

pub type Smmu = VSmmu<MappedGuestMemory, Devices<Smmuv3, VfioDevice>, CountingSink, Spis>;

/// The vSMMU and the kernel objects under it.
pub struct Iommu {
    pub vsmmu: Smmu,
    /// The capabilities the vSMMU's ID registers advertise.
    pub caps: SmmuCaps,
    pub counters: Arc<Counters>,
    /// The sink's switch.
    pub one_per_ioctl: Arc<AtomicBool>,
    /// A copy of the vEVENTQ's fd, for the event thread's poll.
    pub vevents: OwnedFd,
    pub vevent_queue_id: u32,
    /// A copy of the device fd, for config space and BAR0.
    pub device: OwnedFd,
    pub viommu: VIommuAllocated<Smmuv3>,
    pub ioas: IoasReady,
    pub fd: Arc<IommuFd>,
}

/// One line of the set-up story (what `rig/walkthrough.sh l2` shows).
pub fn step(what: &str) {
    println!("vmm: {what}");
}

fn io<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> String + '_ {
    move |e| format!("{what}: {e}")
}

impl Iommu {
    /// The VFIO device at `path` behind a vSMMU, as guest StreamID [`DEVICE_SID`],
    /// with `ram` as stage 2.
    pub fn new(
        path: &str,
        ram: &GuestRam,
        vm: Arc<VmFd>,
        mode: crate::Mode,
    ) -> Result<Self, String> {
        let fd = Arc::new(IommuFd::open().map_err(io("open /dev/iommu"))?);
        let ioas = IoasReady::new(&fd).map_err(io("IOAS"))?;
        ioas.map_file(
            ram.memfd().as_fd(),
            0,
            ram.size(),
            MapAt::Fixed(Iova(RAM)),
            Access::READ | Access::WRITE,
        )
        .map_err(io("map guest RAM"))?;
        step(&format!(
            "[1] guest RAM: a {} MiB memfd, KVM memslot 0 and IOAS {} mapping at {RAM:#x} (stage 2)",
            ram.size() >> 20,
            ioas.id().raw()
        ));
        let dev = VfioUnbound::open(path)
            .map_err(io(path))?
            .bind(&fd)
            .map_err(|e| format!("bind {path}: {}", e.into_parts().1))?;
        let device = dev.as_fd().try_clone_to_owned().map_err(io("dup"))?;
        let (info, hw) = fd
            .hw_info::<IommuHwInfoArmSmmuv3>(dev.dev_id())
            .map_err(io("hw_info"))?;
        let host = SmmuCaps::decode(&info, hw.capabilities);
        let mut config = VsmmuConfig::for_host(&host);
        // Wired interrupts only: the L2 has no ITS, and Linux then polls CMD_SYNC.
        config.caps.msi = false;
        config.caps.range_invalidation &= mode.range_invalidation;
        let caps = config.caps;
        let regs = Registers::new(&host, config).map_err(io("vSMMU registers"))?;
        step(&format!(
            "[2] {path} bound to iommufd; hw_info: IDR0 {:#x}, IDR1 {:#x} -> the vSMMU's ID registers: stage 1 only, {}-bit StreamIDs, range invalidation {}",
            info.idr[0],
            info.idr[1],
            caps.sid_bits,
            if caps.range_invalidation { "on" } else { "off" },
        ));
        let viommu = ioas
            .alloc_nest_parent(&dev)
            .map_err(io("nest parent"))?
            .alloc_viommu::<Smmuv3>(&dev)
            .map_err(io("vIOMMU"))?;
        let queue = viommu.alloc_vevent_queue(64).map_err(io("vEVENTQ"))?;
        let vevents = queue.as_fd().try_clone_to_owned().map_err(io("dup"))?;
        let vevent_queue_id = queue.id().raw();
        let mem = MappedGuestMemory::map([FileRegion::new(ram.memfd(), RAM, ram.size(), 0)])
            .map_err(io("map guest memory"))?;
        let counters = Arc::new(Counters::default());
        let one_per_ioctl = Arc::new(AtomicBool::new(false));
        let sink = CountingSink {
            viommu: viommu.clone(),
            one_per_ioctl: one_per_ioctl.clone(),
            counters: counters.clone(),
        };
        let vsmmu = VSmmu::new(
            regs,
            mem,
            Devices::new(),
            InvalidationBatch::new(sink),
            Spis(vm),
        )
        .with_vevent_queue(VEventPump::new(queue));
        let bound = viommu
            .bind(dev, DEVICE_SID.into())
            .map_err(|e| format!("vDEVICE: {}", e.into_parts().1))?;
        vsmmu
            .plug(bound)
            .map_err(|_| "StreamID taken".to_string())?;
        step(&format!(
            "[3] nest-parent HWPT {}, vIOMMU {}, vEVENTQ {}, the device as vDEVICE of StreamID {DEVICE_SID:#x} plugged into the vSMMU",
            viommu.s2().id().raw(),
            viommu.id().raw(),
            vevent_queue_id
        ));
        Ok(Self {
            vsmmu,
            caps,
            counters,
            one_per_ioctl,
            vevents,
            vevent_queue_id,
            device,
            viommu,
            ioas,
            fd,
        })
    }
}
