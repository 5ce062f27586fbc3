#!/usr/bin/python3
"""roofline.py — the roofline view of one MobileNetV2 training step, from `kizuki profile`.

Reads the per-layer table that `kizuki profile` prints (ms, MFLOP, MB per row; profiler.h's
FLOP/byte model), groups the rows by kind of layer and direction (Conv2d 1x1 fwd,
BatchNorm2d bwd, ...), and for each group prints its arithmetic intensity (FLOP/byte), the
rate it reached, the roof at that intensity — min(peak, intensity x bandwidth), with the
measured FMA peak and triad bandwidth (bench/bench_peak) — and how far below the roof it
runs. Writes the table as Markdown and, with --svg, a log-log roofline figure (one point per
group, its area ~ its share of the step).

  build/apps/kizuki profile --median ... > profile.txt
  /usr/bin/python3 bench/roofline.py profile.txt --peak 380 --bandwidth 40 [--svg out.svg]
"""

import argparse
import math
import re
import sys

ROW = re.compile(r"^\s*\d+\s+(\S+)\s+(.+?)\s+(fwd|bwd|upd)\s+([\d.]+)\s+([\d.]+)%\s+(\S+)\s+(\S+)"
                 r"\s+(\S+)\s+(\S+)")


def kind_of(op):
    """'Conv2d dw3x3/s2 96' -> 'Conv2d dw3x3'; 'BatchNorm2d 96' -> 'BatchNorm2d'."""
    words = op.split()
    if words[0] == "Conv2d":
        return "Conv2d " + re.split(r"[ /]", words[1])[0]
    return words[0]


def parse(path):
    groups, step_ms = {}, None
    with open(path) as f:
        for line in f:
            if line.strip().startswith("step ("):
                step_ms = float(line.split(")")[1].split()[0])
            m = ROW.match(line)
            if not m:
                continue
            _, op, direction, ms, _, mflop, _, mb, _ = m.groups()
            if mflop == "-" or mb == "-":
                continue
            key = (kind_of(op), direction)
            g = groups.setdefault(key, [0.0, 0.0, 0.0])
            g[0] += float(ms)
            g[1] += float(mflop) * 1e6
            g[2] += float(mb) * 1e6
    if not groups or step_ms is None:
        sys.exit(f"roofline: {path} holds no `kizuki profile` table")
    return groups, step_ms


def table(groups, step_ms, peak, bw):
    rows = []
    for (kind, direction), (ms, flops, bytes_) in groups.items():
        if ms <= 0 or flops <= 0:
            continue
        ai = flops / bytes_
        rate = flops / (ms * 1e6)
        roof = min(peak, ai * bw)
        rows.append((kind, direction, ms, 100 * ms / step_ms, ai, rate, roof, 100 * rate / roof,
                     "memory" if ai * bw < peak else "compute"))
    rows.sort(key=lambda r: -r[2])
    out = ["| layer kind | dir | ms/step | step % | FLOP/byte | GFLOP/s | roof GFLOP/s | % of roof "
           "| bound by |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r[0]} | {r[1]} | {r[2]:.1f} | {r[3]:.1f} | {r[4]:.2f} | {r[5]:.1f} | "
                   f"{r[6]:.0f} | {r[7]:.1f} | {r[8]} |")
    return rows, "\n".join(out)


def svg(rows, peak, bw, path, title):
    w, h, ml, mb, mt, mr = 720, 460, 70, 50, 40, 190
    x0, x1, y0, y1 = 0.05, 100.0, 0.1, 1000.0
    px = lambda ai: ml + (math.log10(ai) - math.log10(x0)) / (math.log10(x1) - math.log10(x0)) * (w - ml - mr)
    py = lambda g: h - mb - (math.log10(g) - math.log10(y0)) / (math.log10(y1) - math.log10(y0)) * (h - mb - mt)
    s = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="11">',
         f'<rect width="{w}" height="{h}" fill="white"/>',
         f'<text x="{ml}" y="20" font-size="13">{title}</text>']
    for d in range(-1, 4):  # grid
        g = 10.0 ** d
        s.append(f'<line x1="{ml}" x2="{w - mr}" y1="{py(g):.1f}" y2="{py(g):.1f}" stroke="#ddd"/>')
        s.append(f'<text x="{ml - 6}" y="{py(g) + 4:.1f}" text-anchor="end">{g:g}</text>')
    for d in range(-1, 3):
        a = 10.0 ** d
        s.append(f'<line x1="{px(a):.1f}" x2="{px(a):.1f}" y1="{mt}" y2="{h - mb}" stroke="#ddd"/>')
        s.append(f'<text x="{px(a):.1f}" y="{h - mb + 16}" text-anchor="middle">{a:g}</text>')
    s.append(f'<text x="{(ml + w - mr) / 2}" y="{h - 12}" text-anchor="middle">arithmetic intensity (FLOP/byte)</text>')
    s.append(f'<text x="16" y="{(mt + h - mb) / 2}" transform="rotate(-90 16 {(mt + h - mb) / 2})" text-anchor="middle">GFLOP/s</text>')
    knee = peak / bw
    s.append(f'<polyline fill="none" stroke="black" stroke-width="2" points="{px(x0):.1f},{py(max(x0 * bw, y0)):.1f} '
             f'{px(knee):.1f},{py(peak):.1f} {px(x1):.1f},{py(peak):.1f}"/>')
    s.append(f'<text x="{px(x1) - 4:.1f}" y="{py(peak) - 6:.1f}" text-anchor="end">FMA peak {peak:.0f} GFLOP/s</text>')
    s.append(f'<text x="{px(0.1) + 4:.1f}" y="{py(0.1 * bw) - 8:.1f}">triad {bw:.0f} GB/s</text>')
    colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
              "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939"]
    for i, r in enumerate([r for r in rows if r[3] >= 0.5]):
        c = colors[i % len(colors)]
        rad = 3 + 1.2 * math.sqrt(r[3])
        s.append(f'<circle cx="{px(r[4]):.1f}" cy="{py(max(r[5], y0)):.1f}" r="{rad:.1f}" fill="{c}" fill-opacity="0.7"/>')
        ly = mt + 14 * i + 10
        s.append(f'<circle cx="{w - mr + 14}" cy="{ly - 4}" r="4" fill="{c}"/>')
        s.append(f'<text x="{w - mr + 22}" y="{ly}">{r[0]} {r[1]} ({r[3]:.0f}%)</text>')
    s.append("</svg>")
    with open(path + ".tmp", "w") as f:
        f.write("\n".join(s) + "\n")
    import os
    os.replace(path + ".tmp", path)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("profile", help="output of `kizuki profile`")
    p.add_argument("--peak", type=float, required=True, help="FP32 FMA peak, GFLOP/s")
    p.add_argument("--bandwidth", type=float, required=True, help="triad bandwidth, GB/s")
    p.add_argument("--svg", help="write the roofline figure here")
    p.add_argument("--title", default="MobileNetV2 training step: roofline by layer kind")
    a = p.parse_args()
    groups, step_ms = parse(a.profile)
    rows, md = table(groups, step_ms, a.peak, a.bandwidth)
    print(md)
    if a.svg:
        svg(rows, a.peak, a.bandwidth, a.svg, a.title)


if __name__ == "__main__":
    main()
