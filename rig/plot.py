#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0 OR BSD-3-Clause
"""Plots the in-guest invalidation bench (rig/bench.sh output) as an SVG: ns per
command against batch size, log-log, for the crate, the raw loop and one command per
ioctl, one panel per driver. Usage: plot.py BENCH_X86.txt BENCH_ARM64.txt > out.svg"""
import math
import re
import sys

VARIANTS = [("crate", 0, "#1f77b4"), ("raw loop", 2, "#2ca02c"), ("1 per ioctl", 3, "#d62728")]


def parse(path):
    title, rows = None, []
    for line in open(path):
        if "drained" in line:
            break  # the drain table follows the invalidation table; not plotted
        if "ns per command" in line:
            title = line.split(":")[0].strip()
        m = re.match(r"^\s*(\d+)\s+(.*)$", line)
        if m and title and "/" in line:
            nums = [float(x) for x in re.findall(r"[\d.]+", m.group(2))]
            # crate min/med, batch min/med, raw min/med, single min/med, ratios
            rows.append((int(m.group(1)), [nums[1], nums[3], nums[5], nums[7]]))
    return title, rows


def panel(x0, title, rows, out):
    w, h, pad = 420, 300, 50
    xs = [math.log2(n) for n, _ in rows]
    ys = [math.log10(v) for _, vals in rows for v in vals]
    xmin, xmax, ymin, ymax = min(xs), max(xs), math.floor(min(ys)), math.ceil(max(ys))
    px = lambda x: x0 + pad + (x - xmin) / (xmax - xmin) * (w - 2 * pad)
    py = lambda y: h - pad + 20 - (y - ymin) / (ymax - ymin) * (h - 2 * pad)
    out.append(f'<text x="{x0 + w / 2}" y="20" text-anchor="middle" font-size="12">{title}</text>')
    out.append(f'<rect x="{x0 + pad}" y="{py(ymax)}" width="{w - 2 * pad}" height="{py(ymin) - py(ymax)}" fill="none" stroke="#888"/>')
    for n, _ in rows:
        out.append(f'<text x="{px(math.log2(n))}" y="{py(ymin) + 14}" text-anchor="middle" font-size="9">{n}</text>')
    for e in range(ymin, ymax + 1):
        out.append(f'<text x="{x0 + pad - 4}" y="{py(e) + 3}" text-anchor="end" font-size="9">{10 ** e}</text>')
        out.append(f'<line x1="{x0 + pad}" x2="{x0 + w - pad}" y1="{py(e)}" y2="{py(e)}" stroke="#eee"/>')
    for name, i, color in VARIANTS:
        pts = " ".join(f"{px(math.log2(n))},{py(math.log10(vals[i]))}" for n, vals in rows)
        out.append(f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="2"/>')
    out.append(f'<text x="{x0 + w / 2}" y="{h + 8}" text-anchor="middle" font-size="10">commands per ioctl (batch size)</text>')
    out.append(f'<text x="{x0 + 12}" y="{h / 2}" font-size="10" transform="rotate(-90 {x0 + 12} {h / 2})" text-anchor="middle">ns per command (median)</text>')


def main():
    out = []
    for k, path in enumerate(sys.argv[1:3]):
        title, rows = parse(path)
        if rows:
            panel(k * 440, title, rows, out)
    legend = "".join(
        f'<rect x="{20 + j * 120}" y="322" width="12" height="4" fill="{c}"/><text x="{36 + j * 120}" y="327" font-size="10">{n}</text>'
        for j, (n, _, c) in enumerate(VARIANTS)
    )
    print(f'<svg xmlns="http://www.w3.org/2000/svg" width="880" height="335" font-family="sans-serif">'
          f'<rect width="100%" height="100%" fill="white"/>{"".join(out)}{legend}</svg>')


if __name__ == "__main__":
    main()
