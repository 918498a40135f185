// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The KVM side: one VM with guest RAM as memslot 0, vCPUs with PSCI 0.2 started
//! at the kernel's entry (x0 = the device tree), and the in-kernel vGICv3 (its
//! arch timer comes with it). SPIs are raised as edges on KVM_IRQ_LINE.

use crate::layout::*;
use crate::ram::GuestRam;
use kvm_bindings::*;
use kvm_ioctls::{DeviceFd, Kvm, VcpuFd, VmFd};
use std::sync::Arc;

/// The VM and what keeps its devices alive.
pub struct Vm {
    pub vm: Arc<VmFd>,
    pub vcpus: Vec<VcpuFd>,
    _gic: DeviceFd,
}

/// KVM_REG_ARM_CORE register id of the 64-bit field at byte `offset` of
/// `struct kvm_regs`.
fn core_reg(offset: usize) -> u64 {
    KVM_REG_ARM64 | KVM_REG_SIZE_U64 | u64::from(KVM_REG_ARM_CORE) | (offset / 4) as u64
}

/// `kvm_regs.regs.regs[0]` and `kvm_regs.regs.pc` (31 registers, then sp, pc).
const X0: usize = 0;
const PC: usize = 32 * 8;

fn attr(dev: &DeviceFd, group: u32, attr: u32, addr: u64) -> Result<(), kvm_ioctls::Error> {
    dev.set_device_attr(&kvm_device_attr {
        group,
        attr: attr.into(),
        addr,
        flags: 0,
    })
}

impl Vm {
    /// A VM with `cpus` vCPUs over `ram`, vCPU 0 to start at `entry` with the
    /// device tree at `fdt`; the others wait for PSCI CPU_ON.
    pub fn new(ram: &GuestRam, cpus: u32, entry: u64, fdt: u64) -> Result<Self, kvm_ioctls::Error> {
        let kvm = Kvm::new()?;
        let vm = kvm.create_vm()?;
        ram.register(&vm)?;
        let mut init = kvm_vcpu_init::default();
        vm.get_preferred_target(&mut init)?;
        init.features[0] |= 1 << KVM_ARM_VCPU_PSCI_0_2;
        let mut vcpus = Vec::new();
        for id in 0..cpus {
            let vcpu = vm.create_vcpu(id.into())?;
            let mut init = init;
            if id > 0 {
                init.features[0] |= 1 << KVM_ARM_VCPU_POWER_OFF;
            }
            vcpu.vcpu_init(&init)?;
            vcpus.push(vcpu);
        }
        vcpus[0].set_one_reg(core_reg(PC), &entry.to_le_bytes())?;
        vcpus[0].set_one_reg(core_reg(X0), &fdt.to_le_bytes())?;

        let mut gic = kvm_create_device {
            type_: kvm_device_type_KVM_DEV_TYPE_ARM_VGIC_V3,
            fd: 0,
            flags: 0,
        };
        let gic = vm.create_device(&mut gic)?;
        let (dist, redist, nr_irqs) = (GIC_DIST, GIC_REDIST, 32 + NR_SPIS);
        let at = |v: &u64| v as *const u64 as u64;
        attr(
            &gic,
            KVM_DEV_ARM_VGIC_GRP_ADDR,
            KVM_VGIC_V3_ADDR_TYPE_DIST,
            at(&dist),
        )?;
        attr(
            &gic,
            KVM_DEV_ARM_VGIC_GRP_ADDR,
            KVM_VGIC_V3_ADDR_TYPE_REDIST,
            at(&redist),
        )?;
        attr(
            &gic,
            KVM_DEV_ARM_VGIC_GRP_NR_IRQS,
            0,
            &nr_irqs as *const u32 as u64,
        )?;
        attr(
            &gic,
            KVM_DEV_ARM_VGIC_GRP_CTRL,
            KVM_DEV_ARM_VGIC_CTRL_INIT,
            0,
        )?;
        Ok(Self {
            vm: Arc::new(vm),
            vcpus,
            _gic: gic,
        })
    }
}

/// Sets the level of SPI `spi`.
pub fn set_spi(vm: &VmFd, spi: u32, level: bool) {
    let irq = (KVM_ARM_IRQ_TYPE_SPI << KVM_ARM_IRQ_TYPE_SHIFT) | (32 + spi);
    let _ = vm.set_irq_line(irq, level);
}

/// Raises SPI `spi` as an edge: high, then low.
pub fn pulse_spi(vm: &VmFd, spi: u32) {
    set_spi(vm, spi, true);
    set_spi(vm, spi, false);
}
