#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
"""Compares the crate's uAPI mirror with the kernel's headers, through the C compiler.

Input: the `uapi_layout` example's output (struct sizes, alignments, field offsets and
constants on the Rust side). For each line it asks gcc the same question of the real
header, and it lists every struct and constant of the header the Rust side lacks.
Exit status 0 only when everything agrees and nothing is missing.
"""
import argparse, os, re, subprocess, sys, tempfile

# Structs of vfio.h the crate mirrors on purpose; vfio.h has many more a VMM needs
# from other crates (regions, irqs), so only these are checked for completeness.
VFIO_STRUCTS = {"vfio_device_bind_iommufd", "vfio_device_attach_iommufd_pt",
                "vfio_device_detach_iommufd_pt"}


def parse_dump(text):
    structs, fields, consts = [], [], []
    for line in text.splitlines():
        kind, *rest = line.split()
        if kind == "struct":
            structs.append((rest[0], int(rest[1]), int(rest[2])))
        elif kind == "field":
            fields.append((rest[0], rest[1], int(rest[2])))
        elif kind == "const":
            consts.append((rest[0], int(rest[1], 16)))
    return structs, fields, consts


def c_type(name):
    """`iommu_test_cmd::mock_domain` -> the union member's type expression."""
    if "::" in name:
        outer, member = name.split("::")
        return f"__typeof__(((struct {outer} *)0)->{member})", (outer, member)
    return f"struct {name}", None


def header_names(path):
    text = open(path).read()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    structs = set(re.findall(r"^struct (\w+) \{", text, flags=re.M))
    defines = set(re.findall(r"^#define ((?:IOMMU|IOMMUFD|VFIO_DEVICE)_\w+)\s+\S", text, flags=re.M))
    enums = set()
    for body in re.findall(r"enum\s*\w*\s*\{(.*?)\}", text, flags=re.S):
        enums.update(re.findall(r"^\s*(\w+)\s*=", body, flags=re.M))
    return structs, defines, enums


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--include", required=True, help="kernel uAPI include dir (make headers)")
    ap.add_argument("--mock-header", help="drivers/iommu/iommufd/iommufd_test.h")
    ap.add_argument("dump", help="output of the uapi_layout example")
    args = ap.parse_args()
    structs, fields, consts = parse_dump(open(args.dump).read())

    lines = ['#include <stdio.h>', '#include <stddef.h>', '#include <linux/iommufd.h>',
             '#include <linux/vfio.h>']
    if args.mock_header:
        lines.append(f'#include "{os.path.abspath(args.mock_header)}"')
    lines.append("#define OFF(t, f) ((unsigned long)offsetof(t, f))")
    lines.append("int main(void) {")
    for name, _, _ in structs:
        ty, _ = c_type(name)
        lines.append(f'  printf("struct {name} %lu %lu\\n", (unsigned long)sizeof({ty}), (unsigned long)_Alignof({ty}));')
    for sname, field, _ in fields:
        if field == "__pad":
            continue  # Rust-side explicit padding: C leaves it implicit.
        ty, member = c_type(sname)
        if member:
            outer, m = member
            expr = f"OFF(struct {outer}, {m}.{field}) - OFF(struct {outer}, {m})"
        else:
            expr = f"OFF({ty}, {field})"
        lines.append(f'  printf("field {sname} {field} %lu\\n", {expr});')
    for name, _ in consts:
        lines.append(f'  printf("const {name} %#llx\\n", (unsigned long long)({name}));')
    lines.append("  return 0;\n}")

    with tempfile.TemporaryDirectory() as tmp:
        src, exe = os.path.join(tmp, "check.c"), os.path.join(tmp, "check")
        open(src, "w").write("\n".join(lines) + "\n")
        cc = subprocess.run(["gcc", "-std=gnu11", "-I", args.include, "-o", exe, src],
                            capture_output=True, text=True)
        if cc.returncode != 0:
            sys.stderr.write(cc.stderr[-4000:])
            sys.exit("header check: the C side does not compile (a name the crate uses is gone from the header?)")
        c_out = subprocess.run([exe], capture_output=True, text=True, check=True).stdout

    c_structs, c_fields, c_consts = parse_dump(c_out)
    problems = []
    for (name, size, align), (_, csize, calign) in zip(structs, c_structs):
        if (size, align) != (csize, calign):
            problems.append(f"struct {name}: Rust size/align {size}/{align}, C {csize}/{calign}")
    rust_fields = [f for f in fields if f[1] != "__pad"]
    for (s, f, off), (_, _, coff) in zip(rust_fields, c_fields):
        if off != coff:
            problems.append(f"field {s}.{f}: Rust offset {off}, C {coff}")
    for (name, val), (_, cval) in zip(consts, c_consts):
        if val != cval:
            problems.append(f"const {name}: Rust {val:#x}, C {cval:#x}")

    # Completeness: every struct and constant of iommufd.h (and the mock header) has a
    # Rust mirror.
    have_structs = {s[0] for s in structs}
    have_consts = {c[0] for c in consts}
    headers = [os.path.join(args.include, "linux/iommufd.h")]
    if args.mock_header:
        headers.append(args.mock_header)
    for h in headers:
        hs, hd, he = header_names(h)
        for s in sorted(hs - have_structs):
            problems.append(f"missing struct {s} of {os.path.basename(h)}")
        for c in sorted((hd | he) - have_consts):
            if c in ("IOMMUFD_TYPE", "IOMMUFD_CMD_BASE") or c.startswith("IOMMUFD_CMD_") or c.startswith("_UAPI"):
                continue  # building blocks of the request numbers, checked through them
            problems.append(f"missing constant {c} of {os.path.basename(h)}")
    vfio_missing = VFIO_STRUCTS - have_structs
    problems += [f"missing struct {s} of vfio.h" for s in sorted(vfio_missing)]

    checked = len(structs) + len(rust_fields) + len(consts)
    if problems:
        print("\n".join(problems))
        sys.exit(f"header check: {len(problems)} problem(s) in {checked} items")
    print(f"header check: {len(structs)} structs, {len(rust_fields)} field offsets, "
          f"{len(consts)} constants agree with the kernel headers")


if __name__ == "__main__":
    main()
