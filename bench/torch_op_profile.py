#!/usr/bin/python3
"""torch_op_profile.py — where PyTorch's MobileNetV2 training step goes, per op.

The step of bench/train_vs_torch.py (torchvision mobilenet_v2, batch 128, SGD momentum 0.9,
weight decay 4e-5, cross-entropy over 10 classes, zero_grad(set_to_none=True)), tuned the same
way (threads, OPENBLAS_NUM_THREADS=1 and the malloc settings must be in the environment, as
train_vs_torch.py sets them), run under torch.autograd.profiler for --steps steps after
--warmup; prints each op's self CPU time per step (ms), most first, the step's wall time and
the process's CPU time per step (all threads; the steadier figure on a shared machine).
Set DNNL_MAX_CPU_ISA / ATEN_CPU_CAPABILITY in the environment to emulate another ISA.

  OPENBLAS_NUM_THREADS=1 MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=100000000000 \
  MALLOC_TOP_PAD_=1073741824 OMP_NUM_THREADS=2 \
  /usr/bin/python3 bench/torch_op_profile.py --image 96 --width 1.0 [--format channels_last]
"""

import argparse
import time

import torch
import torchvision


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--image", type=int, default=96)
    p.add_argument("--width", type=float, default=1.0)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--format", default="channels_last", choices=("channels_last", "contiguous"))
    p.add_argument("--top", type=int, default=25, help="rows printed")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    fmt = torch.channels_last if a.format == "channels_last" else torch.contiguous_format
    model = torchvision.models.mobilenet_v2(width_mult=a.width, num_classes=10).to(memory_format=fmt)
    model.train()
    x = torch.randn(a.batch, 3, a.image, a.image).contiguous(memory_format=fmt)
    labels = torch.randint(0, 10, (a.batch,))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=4e-5)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), labels).backward()
        opt.step()

    for _ in range(a.warmup):
        step()
    t0, c0 = time.perf_counter(), time.process_time()
    with torch.autograd.profiler.profile() as prof:
        for _ in range(a.steps):
            step()
    wall = (time.perf_counter() - t0) / a.steps
    cpu = (time.process_time() - c0) / a.steps
    rows = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
    total = sum(e.self_cpu_time_total for e in rows) / a.steps / 1e3
    print(f"torch {torch.__version__}, {a.image}x{a.image} w{a.width} batch {a.batch} "
          f"{a.threads} threads {a.format}: {wall * 1e3:.1f} ms per profiled step "
          f"({a.batch / wall:.0f} img/s), process CPU {cpu * 1e3:.1f} ms per step (all threads), "
          f"self CPU of all ops {total:.1f} ms")
    print(f"{'op':<44} {'calls':>6} {'self ms/step':>12} {'%':>6}")
    for e in rows[:a.top]:
        ms = e.self_cpu_time_total / a.steps / 1e3
        print(f"{e.key:<44} {e.count // a.steps:>6} {ms:>12.1f} {100 * ms / total:>6.1f}")


if __name__ == "__main__":
    main()
