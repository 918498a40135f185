#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
"""Patches QEMU's ACPI IORT so Linux grants nested translation on its SMMUv3.

vIOMMU allocation needs the SMMU to have S2FWB (QEMU never sets it) or the PCI root
complex to be CANWBS: bit 2 of the root complex node's memory access flags (byte 23 of
the node). QEMU writes 0x3 there. This sets the bit in every root complex node (type
2), bumps the OEM revision (so the kernel takes the table as an upgrade) and fixes the
checksum. Usage: iort_patch.py HEX_IN OUT.aml
"""
import struct
import sys

ROOT_COMPLEX = 2
MEMORY_ACCESS_FLAGS = 23
CANWBS = 1 << 2


def patch(table: bytearray) -> int:
    if table[:4] != b"IORT":
        sys.exit("iort_patch: not an IORT table")
    length = struct.unpack_from("<I", table, 4)[0]
    if length != len(table):
        sys.exit(f"iort_patch: table says {length} bytes, got {len(table)}")
    nodes, offset = struct.unpack_from("<II", table, 36)
    patched = 0
    for _ in range(nodes):
        node_type = table[offset]
        node_len = struct.unpack_from("<H", table, offset + 1)[0]
        if node_len == 0:
            sys.exit("iort_patch: node of length 0")
        if node_type == ROOT_COMPLEX:
            table[offset + MEMORY_ACCESS_FLAGS] |= CANWBS
            patched += 1
        offset += node_len
    oem_revision = struct.unpack_from("<I", table, 24)[0]
    struct.pack_into("<I", table, 24, oem_revision + 1)
    table[9] = 0
    table[9] = (-sum(table)) & 0xFF
    assert sum(table) % 256 == 0
    return patched


def main():
    hex_text, out = open(sys.argv[1]).read().strip(), sys.argv[2]
    table = bytearray.fromhex(hex_text)
    patched = patch(table)
    if patched == 0:
        sys.exit("iort_patch: no root complex node in the IORT")
    open(out, "wb").write(table)
    print(f"iort_patch: {patched} root complex node(s) made CANWBS")


if __name__ == "__main__":
    main()
