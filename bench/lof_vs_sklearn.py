#!/usr/bin/python3
"""LOF side by side: kizuki's bench_lof against scikit-learn, same sizes, same threads.

    /usr/bin/python3 bench/lof_vs_sklearn.py [--build build] [--threads 2] [--reps 5]

Both fit LocalOutlierFactor(novelty=True) on N float32 features and score M others
(score_samples); the time is fit + score, the median of --reps runs. kizuki's side is
Google Benchmark's median of bench/bench_lof's `lof/seed` (N 1000, k 5, M 2000, 1280-d) and
`lof/large` (N 9000, k 20) over random normal features, scikit-learn's is measured here on
features drawn the same way. The two runs alternate, so load from other processes falls on
both. Prints one row per size: medians in ms and the ratio scikit-learn / kizuki; then the
seed case's GEMM floor (bench_lof's `lof/seed_floor`: one sgemm of the flops LOF cannot
avoid) timed right after it, and lof/seed's ratio to it (issue 23 asks for at most 1.5).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

CASES = [  # (benchmark name, N fitted, D, k, M scored)
    ("lof/seed", 1000, 1280, 5, 2000),
    ("lof/large", 9000, 1280, 20, 2000),
]


def kizuki_ms(build, name, threads, reps):
    """Median real time of one bench_lof case, in ms."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    out = subprocess.run(
        [os.path.join(build, "bench", "bench_lof"), f"--benchmark_filter=^{name}/",
         f"--benchmark_repetitions={reps}", "--benchmark_format=json"],
        env=env, check=True, capture_output=True, text=True).stdout
    runs = [b for b in json.loads(out)["benchmarks"] if b.get("run_type") == "iteration"]
    return statistics.median(b["real_time"] for b in runs)  # the benchmark's unit is ms


def sklearn_ms(n, d, k, m, reps):
    import numpy as np
    from sklearn.neighbors import LocalOutlierFactor
    rng = np.random.default_rng(0)
    fit = rng.standard_normal((n, d), dtype=np.float32)
    score = rng.standard_normal((m, d), dtype=np.float32)
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        lof = LocalOutlierFactor(n_neighbors=k, novelty=True).fit(fit)
        lof.score_samples(score)
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5)
    a = ap.parse_args()
    # scikit-learn's GEMMs run in OpenBLAS (OpenMP build) and its own loops in OpenMP.
    os.environ["OMP_NUM_THREADS"] = os.environ["OPENBLAS_NUM_THREADS"] = str(a.threads)
    import sklearn
    print(f"LOF fit + score, {a.threads} threads, median of {a.reps}; scikit-learn "
          f"{sklearn.__version__}")
    print(f"{'case':<10} {'N':>5} {'D':>5} {'k':>3} {'M':>5} {'sklearn ms':>11} "
          f"{'kizuki ms':>10} {'ratio':>6}")
    seed = None
    for name, n, d, k, m in CASES:
        sk = sklearn_ms(n, d, k, m, a.reps)
        kz = kizuki_ms(a.build, name, a.threads, a.reps)
        if name == "lof/seed":
            seed = kz, kizuki_ms(a.build, "lof/seed_floor", a.threads, a.reps)
        print(f"{name:<10} {n:>5} {d:>5} {k:>3} {m:>5} {sk:>11.1f} {kz:>10.1f} "
              f"{sk / kz:>5.1f}x")
    print(f"lof/seed against its GEMM floor (lof/seed_floor, {seed[1]:.1f} ms): "
          f"{seed[0] / seed[1]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
