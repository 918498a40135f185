// SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
//! The L2 guest's device tree: CPUs with PSCI, the GICv3 and arch timer, the
//! UART, memory, the initramfs, and the PCIe host whose `iommu-map` puts its
//! device behind the vSMMU (`arm,smmu-v3`, wired interrupts).

use crate::layout::*;
use vm_fdt::{FdtWriter, FdtWriterResult};

const PHANDLE_GIC: u32 = 1;
const PHANDLE_SMMU: u32 = 2;

/// GIC interrupt specifier cells: type (0 SPI, 1 PPI), number, flags.
const GIC_SPI: u32 = 0;
const GIC_PPI: u32 = 1;
const IRQ_EDGE_RISING: u32 = 1;
const IRQ_LEVEL_HIGH: u32 = 4;

/// What goes into the tree besides the fixed layout.
pub struct Boot<'a> {
    pub ram_size: u64,
    pub cpus: u32,
    pub cmdline: &'a str,
    /// Guest physical start and end of the initramfs.
    pub initrd: (u64, u64),
}

fn cells(values: &[u64]) -> Vec<u32> {
    values
        .iter()
        .flat_map(|&v| [(v >> 32) as u32, v as u32])
        .collect()
}

/// The flattened device tree.
pub fn build(boot: &Boot<'_>) -> FdtWriterResult<Vec<u8>> {
    let mut fdt = FdtWriter::new()?;
    let root = fdt.begin_node("")?;
    fdt.property_string("compatible", "linux,dummy-virt")?;
    fdt.property_u32("#address-cells", 2)?;
    fdt.property_u32("#size-cells", 2)?;
    fdt.property_u32("interrupt-parent", PHANDLE_GIC)?;

    let chosen = fdt.begin_node("chosen")?;
    fdt.property_string("bootargs", boot.cmdline)?;
    fdt.property_string("stdout-path", &format!("/uart@{UART:x}"))?;
    fdt.property_u64("linux,initrd-start", boot.initrd.0)?;
    fdt.property_u64("linux,initrd-end", boot.initrd.1)?;
    fdt.end_node(chosen)?;

    let memory = fdt.begin_node(&format!("memory@{RAM:x}"))?;
    fdt.property_string("device_type", "memory")?;
    fdt.property_array_u32("reg", &cells(&[RAM, boot.ram_size]))?;
    fdt.end_node(memory)?;

    let cpus = fdt.begin_node("cpus")?;
    fdt.property_u32("#address-cells", 1)?;
    fdt.property_u32("#size-cells", 0)?;
    for id in 0..boot.cpus {
        let cpu = fdt.begin_node(&format!("cpu@{id}"))?;
        fdt.property_string("device_type", "cpu")?;
        fdt.property_string("compatible", "arm,arm-v8")?;
        fdt.property_string("enable-method", "psci")?;
        fdt.property_u32("reg", id)?;
        fdt.end_node(cpu)?;
    }
    fdt.end_node(cpus)?;

    let psci = fdt.begin_node("psci")?;
    fdt.property_string_list(
        "compatible",
        vec!["arm,psci-1.0".into(), "arm,psci-0.2".into()],
    )?;
    fdt.property_string("method", "hvc")?;
    fdt.end_node(psci)?;

    let gic = fdt.begin_node(&format!("intc@{GIC_DIST:x}"))?;
    fdt.property_string("compatible", "arm,gic-v3")?;
    fdt.property_null("interrupt-controller")?;
    fdt.property_u32("#interrupt-cells", 3)?;
    fdt.property_array_u32(
        "reg",
        &cells(&[
            GIC_DIST,
            GIC_DIST_SIZE,
            GIC_REDIST,
            GIC_REDIST_SIZE * u64::from(boot.cpus),
        ]),
    )?;
    fdt.property_u32("phandle", PHANDLE_GIC)?;
    fdt.end_node(gic)?;

    // Secure, non-secure, virtual and hypervisor physical timers (PPIs 13, 14, 11, 10).
    let timer = fdt.begin_node("timer")?;
    fdt.property_string("compatible", "arm,armv8-timer")?;
    let ppis: Vec<u32> = [13, 14, 11, 10]
        .iter()
        .flat_map(|&ppi| [GIC_PPI, ppi, IRQ_LEVEL_HIGH])
        .collect();
    fdt.property_array_u32("interrupts", &ppis)?;
    fdt.property_null("always-on")?;
    fdt.end_node(timer)?;

    let uart = fdt.begin_node(&format!("uart@{UART:x}"))?;
    fdt.property_string("compatible", "ns16550a")?;
    fdt.property_array_u32("reg", &cells(&[UART, UART_SIZE]))?;
    fdt.property_u32("clock-frequency", 1_843_200)?;
    fdt.property_array_u32("interrupts", &[GIC_SPI, SPI_UART, IRQ_LEVEL_HIGH])?;
    fdt.end_node(uart)?;

    let smmu = fdt.begin_node(&format!("iommu@{SMMU:x}"))?;
    fdt.property_string("compatible", "arm,smmu-v3")?;
    fdt.property_array_u32("reg", &cells(&[SMMU, SMMU_SIZE]))?;
    fdt.property_array_u32(
        "interrupts",
        &[
            GIC_SPI,
            SPI_SMMU_EVENTQ,
            IRQ_EDGE_RISING,
            GIC_SPI,
            SPI_SMMU_GERROR,
            IRQ_EDGE_RISING,
            GIC_SPI,
            SPI_SMMU_CMD_SYNC,
            IRQ_EDGE_RISING,
        ],
    )?;
    fdt.property_string_list(
        "interrupt-names",
        vec!["eventq".into(), "gerror".into(), "cmdq-sync".into()],
    )?;
    fdt.property_u32("#iommu-cells", 1)?;
    fdt.property_null("dma-coherent")?;
    fdt.property_u32("phandle", PHANDLE_SMMU)?;
    fdt.end_node(smmu)?;

    let pcie = fdt.begin_node(&format!("pcie@{ECAM:x}"))?;
    fdt.property_string("compatible", "pci-host-ecam-generic")?;
    fdt.property_string("device_type", "pci")?;
    fdt.property_array_u32("reg", &cells(&[ECAM, ECAM_SIZE]))?;
    fdt.property_array_u32("bus-range", &[0, 0])?;
    fdt.property_u32("#address-cells", 3)?;
    fdt.property_u32("#size-cells", 2)?;
    fdt.property_u32("linux,pci-domain", 0)?;
    // One non-prefetchable 32-bit memory window, PCI address = CPU address.
    let mut ranges = vec![0x0200_0000];
    ranges.extend(cells(&[PCI_MMIO, PCI_MMIO, PCI_MMIO_SIZE]));
    fdt.property_array_u32("ranges", &ranges)?;
    // Bus 0's requester IDs 0..0x100 are the vSMMU's StreamIDs from DEVICE_SID.
    fdt.property_array_u32("iommu-map", &[0, PHANDLE_SMMU, DEVICE_SID, 0x100])?;
    fdt.property_null("dma-coherent")?;
    fdt.end_node(pcie)?;

    fdt.end_node(root)?;
    fdt.finish()
}
