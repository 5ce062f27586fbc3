#!/usr/bin/python3
"""train_vs_torch.py — kizuki against PyTorch on MobileNetV2, side by side, from one run.

One command runs kizuki's bench/bench_train (Google Benchmark, JSON) and torchvision's
mobilenet_v2 on the same configurations — batch 128, 32x32 and 96x96 input, width 0.5 and
1.0, the same thread count — for training (zero_grad, forward, cross-entropy, backward, SGD
momentum 0.9, weight decay 4e-5, 10 classes) and inference (eval, no gradients), and prints
images/s and the kizuki/PyTorch ratio against PyTorch's FASTER memory format.

PyTorch runs at its best: both memory formats (contiguous and channels_last), in a
subprocess with torch.set_num_threads(T), OPENBLAS_NUM_THREADS=1 and glibc malloc kept
from returning memory to the kernel (MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_,
MALLOC_TOP_PAD_); zero_grad(set_to_none=True); inference under torch.inference_mode().

Noise: the machine may be shared. Each round runs, for every configuration, kizuki,
PyTorch contiguous and PyTorch channels_last one after the other (the order alternates
between rounds); each measurement is a median over steps (PyTorch: per-step times after a
warm-up; kizuki: Google Benchmark repetitions). The table shows the median over rounds, and
the ratio's range over rounds. Ratios from the same run are what count.

  /usr/bin/python3 bench/train_vs_torch.py [--build build] [--rounds 3] [--threads 2]
      [--configs 32:0.5,32:1.0,96:0.5,96:1.0] [--modes train,infer]
      [--formats contiguous,channels_last] [--json out.json] [--markdown]

--modes and --formats narrow a run (e.g. training only, PyTorch channels_last only) to fit
more rounds in the same time; the table then names only what ran. The last column is the
median of the per-round ratios (each round's kizuki over that round's faster PyTorch format).

Needs Debian's python3-torch and python3-torchvision (1.13) under /usr/bin/python3.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

TORCH_ENV = {
    "OPENBLAS_NUM_THREADS": "1",
    "MALLOC_MMAP_THRESHOLD_": "33554432",
    "MALLOC_TRIM_THRESHOLD_": "100000000000",
    "MALLOC_TOP_PAD_": "1073741824",
}
TARGET = {"train": 2.0, "infer": 1.5}  # issue 23 (issue 7 had 1.5 and 1.0)
MODES = ("train", "infer")


# --- the PyTorch worker (runs in its own process, with TORCH_ENV) --------------------------
def torch_worker(a):
    import torch
    import torchvision

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    fmt = torch.channels_last if a.format == "channels_last" else torch.contiguous_format
    out = {}
    for mode in a.modes.split(","):
        model = torchvision.models.mobilenet_v2(width_mult=a.width, num_classes=10)
        model = model.to(memory_format=fmt)
        x = torch.randn(a.batch, 3, a.image, a.image).contiguous(memory_format=fmt)
        labels = torch.randint(0, 10, (a.batch,))
        if mode == "train":
            model.train()
            opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=4e-5)
            loss_fn = torch.nn.CrossEntropyLoss()

            def step():
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(model(x), labels)
                loss.backward()
                opt.step()
        else:
            model.eval()

            def step():
                with torch.inference_mode():
                    model(x)
        for _ in range(a.warmup):
            step()
        times = []
        t_end = time.perf_counter() + a.seconds
        while len(times) < a.min_steps or time.perf_counter() < t_end:
            t0 = time.perf_counter()
            step()
            times.append(time.perf_counter() - t0)
        out[mode] = a.batch / statistics.median(times)
    print(json.dumps(out))


def run_torch(a, image, width, fmt):
    env = dict(os.environ, **TORCH_ENV, OMP_NUM_THREADS=str(a.threads))
    cmd = [sys.executable, os.path.abspath(__file__), "--torch-worker", "--image", str(image),
           "--width", str(width), "--format", fmt, "--threads", str(a.threads),
           "--batch", str(a.batch), "--seconds", str(a.seconds), "--min-steps",
           str(a.min_steps), "--warmup", str(a.warmup), "--modes", a.modes]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"train_vs_torch: PyTorch worker failed ({' '.join(cmd)}):\n{r.stderr}")
    return json.loads(r.stdout.strip().splitlines()[-1])


# --- kizuki ---------------------------------------------------------------------------------
def run_kizuki(a, image, width):
    exe = os.path.join(a.build, "bench", "bench_train")
    if not os.access(exe, os.X_OK):
        sys.exit(f"train_vs_torch: {exe} not found: build it (ninja -C {a.build})")
    wp = int(round(width * 100))
    cmd = [exe, f"--threads={a.threads}",
           f"--benchmark_filter=^BM_mobilenet_v2/({a.modes.replace(',', '|')})/image:{image}/width:{wp}/",
           f"--benchmark_repetitions={a.repetitions}",
           f"--benchmark_min_time={a.kizuki_min_time}", "--benchmark_format=json"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"train_vs_torch: {' '.join(cmd)} failed:\n{r.stderr}")
    runs = json.loads(r.stdout)["benchmarks"]
    out = {}
    for mode in a.modes.split(","):
        reps = [b for b in runs if b.get("run_type") == "iteration" and f"/{mode}/" in b["name"]]
        if not reps:
            sys.exit(f"train_vs_torch: no {mode} result from {' '.join(cmd)}")
        out[mode] = statistics.median(b["images"] for b in reps)
        out[mode + "_gflops"] = statistics.median(b["GFLOP"] for b in reps)
    return out


# --- the orchestrator -----------------------------------------------------------------------
def parse_configs(text):
    configs = []
    for item in text.split(","):
        image, _, width = item.partition(":")
        try:
            configs.append((int(image), float(width)))
        except ValueError:
            sys.exit(f"train_vs_torch: --configs item '{item}' is not IMAGE:WIDTH (e.g. 32:0.5)")
    return configs


def table(results, configs, markdown, modes, formats):
    lines = []
    head = ["mode", "config", "kizuki img/s", "kizuki GFLOP/s"] + [f"torch {f}" for f in formats] + \
        ["ratio", "ratio range", "target", "met", "median per-round ratio"]
    rows = []
    for mode in modes:
        for image, width in configs:
            r = results[f"{image}:{width}"]
            k = statistics.median(r["kizuki"][mode])
            g = statistics.median(r["kizuki"][mode + "_gflops"])
            torch_medians = [statistics.median(r[f][mode]) for f in formats]
            ratio = k / max(torch_medians)
            per_round = [kk / max(tt) for kk, *tt in
                         zip(r["kizuki"][mode], *(r[f][mode] for f in formats))]
            rows.append([mode, f"{image}x{image} w{width}", f"{k:.0f}", f"{g:.1f}"] +
                        [f"{t:.0f}" for t in torch_medians] +
                        [f"{ratio:.2f}x", f"{min(per_round):.2f}-{max(per_round):.2f}",
                         f">={TARGET[mode]:.1f}x", "yes" if ratio >= TARGET[mode] else "NO",
                         f"{statistics.median(per_round):.2f}x"])
    if markdown:
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "|".join("---" for _ in head) + "|")
        lines += ["| " + " | ".join(row) + " |" for row in rows]
    else:
        widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
        lines.append("  ".join(h.rjust(w) for h, w in zip(head, widths)))
        lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in rows]
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build", default="build", help="meson build folder with bench/bench_train")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--configs", default="32:0.5,32:1.0,96:0.5,96:1.0")
    p.add_argument("--seconds", type=float, default=2.0, help="PyTorch: timed seconds per mode")
    p.add_argument("--min-steps", type=int, default=5, help="PyTorch: at least this many steps")
    p.add_argument("--warmup", type=int, default=3, help="PyTorch: untimed steps per mode")
    p.add_argument("--repetitions", type=int, default=5, help="kizuki: benchmark repetitions")
    p.add_argument("--kizuki-min-time", type=float, default=0.3,
                   help="kizuki: --benchmark_min_time per repetition (s)")
    p.add_argument("--modes", default="train,infer", help="train, infer or both")
    p.add_argument("--formats", default="contiguous,channels_last",
                   help="PyTorch memory formats to run (the ratio is against the faster)")
    p.add_argument("--json", help="write every measurement here")
    p.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    # worker mode
    p.add_argument("--torch-worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--image", type=int, help=argparse.SUPPRESS)
    p.add_argument("--width", type=float, help=argparse.SUPPRESS)
    p.add_argument("--format", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.torch_worker:
        return torch_worker(a)
    if a.rounds < 1 or a.threads < 1:
        sys.exit("train_vs_torch: --rounds and --threads must be >= 1")
    modes = a.modes.split(",")
    formats = a.formats.split(",")
    if not modes or any(m not in MODES for m in modes):
        sys.exit(f"train_vs_torch: --modes '{a.modes}' must name train and/or infer")
    if not formats or any(f not in ("contiguous", "channels_last") for f in formats):
        sys.exit(f"train_vs_torch: --formats '{a.formats}' must name contiguous and/or "
                 "channels_last")

    configs = parse_configs(a.configs)
    results = {f"{i}:{w}": {k: {m: [] for m in MODES + ("train_gflops", "infer_gflops")}
                            for k in ("kizuki", "contiguous", "channels_last")}
               for i, w in configs}
    t0 = time.time()
    for rnd in range(a.rounds):
        for image, width in configs:
            order = ["kizuki"] + formats
            if rnd % 2:
                order.reverse()
            r = results[f"{image}:{width}"]
            for who in order:
                got = run_kizuki(a, image, width) if who == "kizuki" else \
                    run_torch(a, image, width, who)
                for key, value in got.items():
                    r[who][key].append(value)
            print(f"round {rnd + 1}/{a.rounds} {image}x{image} w{width}: " +
                  ", ".join(f"{who} " + " ".join(f"{m} {r[who][m][-1]:.0f}" for m in modes)
                            for who in ["kizuki"] + formats) +
                  f"  [{time.time() - t0:.0f} s]", file=sys.stderr, flush=True)
    import torch
    header = (f"MobileNetV2, batch {a.batch}, {a.threads} threads; images/s, median of "
              f"{a.rounds} interleaved rounds; ratio = kizuki / faster PyTorch format "
              f"(torch {torch.__version__})")
    print(header)
    print(table(results, configs, a.markdown, modes, formats))
    if a.json:
        with open(a.json + ".tmp", "w") as f:
            json.dump({"header": header, "args": vars(a), "results": results}, f, indent=1)
        os.replace(a.json + ".tmp", a.json)


if __name__ == "__main__":
    main()
