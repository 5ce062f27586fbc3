#!/usr/bin/python3
"""seed_trial_vs_torch.py — one whole trial of the seed preset, kizuki against PyTorch (issue 23).

The trial: DOC, L2-Softmax and ArcFace fine-tuned from the ImageNet MobileNetV2 (width 1.0)
at 96x96 with the seed's epochs and optimisers, every method's test images scored by LOF
(k 5 on MinMax-scaled pooled features), on Fashion-MNIST (sneaker normal, ankle boot
anomalous) or CIFAR-10 (deer / horse). kizuki runs `kizuki benchmark --preset seed --trials 1
--methods doc,l2softmax,arcface --scorers lof`; PyTorch runs the same trial written here:

- Network: torchvision's mobilenet_v2 features + global average pooling, loaded from the
  safetensors file as scripts/pretrained_training_torch.py does (bn_eps and TF "SAME"
  padding from its metadata), pixels in [-1, 1], grey repeated to RGB, bilinear resize.
- Split (data/split.h): 1000 images of each of the 8 other classes as the reference set
  (labels 0..7 in ascending class order), 1000 normal training images (label 8), test 1000
  normal + 1000 anomalous. numpy draws other images than kizuki's generator; the sizes match.
- doc (anomaly/methods/doc.cpp): Linear(1280, 8) softmax head; each step a reference batch's
  cross-entropy is one SGD step, then a normal batch's compactness loss x 0.1 another
  (losses/doc.h: 1/(n k) sum_i n^2/(n-1)^2 |x_i - mean|^2 of the head's outputs); SGD lr 5e-5,
  no momentum, 5 epochs over the reference set, features.0 ... 13 frozen (batch norm still in
  training mode, as in kizuki), batch 128.
- l2softmax (alpha 15) and arcface (s 30, m 0.05): the reference set and the normal set as 9
  classes, shuffled, batch 128, Adam lr 1e-4 with AMSGrad, 10 epochs, everything trained.
- PyTorch tuned as in bench/train_vs_torch.py: torch.set_num_threads(T), OPENBLAS_NUM_THREADS
  1, glibc malloc kept from returning memory, zero_grad(set_to_none=True), channels_last
  (its faster format for MobileNetV2 training on these CPUs; --format to change), inference
  under torch.inference_mode().

Both sides are timed end to end as processes (data loading, training, embedding, LOF, AUC),
one after the other, the order alternating between rounds; the JSON keeps every round's wall
times, each method's training seconds and AUCs. Speed claims need a quiet machine (nothing
else running) and the CPU line of `kizuki info` beside them.

  /usr/bin/python3 bench/seed_trial_vs_torch.py [--dataset fashion-mnist] [--rounds 1]
      [--threads 2] [--build build] [--json out.json]
      [--scale 0.1]   # a smoke run: 10 % of every set size and 1 epoch per method
"""
import argparse
import json
import os
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WEIGHTS = os.path.join(REPO, "..", "shared", "data", "weights",
                       "mobilenet_v2_1.0_imagenet.safetensors")
TORCH_ENV = {
    "OPENBLAS_NUM_THREADS": "1",
    "MALLOC_MMAP_THRESHOLD_": "33554432",
    "MALLOC_TRIM_THRESHOLD_": "100000000000",
    "MALLOC_TOP_PAD_": "1073741824",
}
METHODS = ("doc", "l2softmax", "arcface")
EPOCHS = {"doc": 5, "l2softmax": 10, "arcface": 10}


# --- the PyTorch trial (runs in its own process, with TORCH_ENV) -----------------------------
def torch_trial(a):
    import math

    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from sklearn.metrics import roc_auc_score
    from sklearn.neighbors import LocalOutlierFactor
    from sklearn.preprocessing import MinMaxScaler

    sys.path.insert(0, os.path.join(REPO, "scripts"))
    from metric_torch import ArcFaceHead, L2SoftmaxHead
    from pretrained_training_torch import make_backbone, prepare, scale, split
    from reconstruction_torch import CLASSES, load_cifar10, load_fashion_mnist

    torch.set_num_threads(a.threads)
    fmt = torch.channels_last if a.format == "channels_last" else torch.contiguous_format
    t_start = time.perf_counter()
    data = (load_fashion_mnist(a.fmnist_dir) if a.dataset == "fashion-mnist"
            else load_cifar10(a.cifar_dir))
    normal, anomaly = CLASSES[a.dataset]
    n = lambda k: max(2, int(round(k * a.scale)))  # noqa: E731
    train, test, labels, reference = split(data, normal, anomaly, a.seed, n(1000), n(1000), n(1000))
    size = 96

    def images(x):  # uint8 -> float in [-1, 1], (N,3,96,96), the chosen memory format
        return scale(prepare(x, size), True).contiguous(memory_format=fmt)

    x_train, x_test, x_ref = images(train), images(test), images(reference)
    y_ref = torch.from_numpy(np.repeat(np.arange(8), n(1000)))
    load_seconds = time.perf_counter() - t_start

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = make_backbone(1.0, a.weights)

        def forward(self, x):
            return self.features(x).mean(dim=(2, 3))

    def compactness(out):  # losses/doc.h
        b, k = out.shape
        d = out - out.mean(dim=0, keepdim=True)
        return (b * b / ((b - 1) ** 2)) * (d * d).sum() / (b * k)

    def train_doc(seed):
        torch.manual_seed(seed)
        net = Net().to(memory_format=fmt)
        head = nn.Linear(1280, 8)
        for b, block in enumerate(net.features):
            for p in block.parameters():
                p.requires_grad_(b >= 14)
        params = [p for p in net.parameters() if p.requires_grad] + list(head.parameters())
        opt = torch.optim.SGD(params, lr=5e-5)
        net.train()
        g = torch.Generator().manual_seed(seed)
        normal_order, normal_at = torch.randperm(len(x_train), generator=g), 0
        for _ in range(epochs("doc")):
            order = torch.randperm(len(x_ref), generator=g)
            for s in range(0, len(order), 128):
                idx = order[s:s + 128]
                if normal_at >= len(normal_order):
                    normal_order, normal_at = torch.randperm(len(x_train), generator=g), 0
                nidx = normal_order[normal_at:normal_at + 128]
                normal_at += 128
                opt.zero_grad(set_to_none=True)
                F.cross_entropy(head(net(x_ref[idx])), y_ref[idx]).backward()
                opt.step()
                if len(nidx) >= 2:
                    opt.zero_grad(set_to_none=True)
                    (0.1 * compactness(head(net(x_train[nidx])))).backward()
                    opt.step()
        return net

    def train_classifier(method, seed):
        torch.manual_seed(seed)
        net = Net().to(memory_format=fmt)
        head = L2SoftmaxHead(1280, 9) if method == "l2softmax" else ArcFaceHead(1280, 9)
        opt = torch.optim.Adam(list(net.parameters()) + list(head.parameters()), lr=1e-4,
                               amsgrad=True)
        x = torch.cat([x_ref, x_train])
        y = torch.cat([y_ref, torch.full((len(x_train),), 8, dtype=torch.long)])
        net.train()
        head.train()
        g = torch.Generator().manual_seed(seed)
        for _ in range(epochs(method)):
            order = torch.randperm(len(x), generator=g)
            for s in range(0, len(order), 128):
                idx = order[s:s + 128]
                if len(idx) < 2:
                    continue
                opt.zero_grad(set_to_none=True)
                F.cross_entropy(head(net(x[idx]), y[idx]), y[idx]).backward()
                opt.step()
        return net

    def epochs(method):
        return 1 if a.scale < 1 else EPOCHS[method]

    def embed(net, x):
        net.eval()
        with torch.inference_mode():
            return torch.cat([net(x[i:i + 256]) for i in range(0, len(x), 256)]).numpy()

    out = {"load_seconds": load_seconds, "methods": {}}
    for method in METHODS:
        t0 = time.perf_counter()
        net = train_doc(a.seed) if method == "doc" else train_classifier(method, a.seed)
        t1 = time.perf_counter()
        f_train, f_test = embed(net, x_train), embed(net, x_test)
        scaler = MinMaxScaler().fit(f_train)
        lof = LocalOutlierFactor(n_neighbors=5, novelty=True).fit(scaler.transform(f_train))
        auc = roc_auc_score(labels, -lof.score_samples(scaler.transform(f_test)))
        t2 = time.perf_counter()
        out["methods"][method] = {"train_seconds": t1 - t0, "score_seconds": t2 - t1,
                                  "auc": float(auc)}
        print("torch %-10s AUC %.4f  train %.1f s  score %.1f s" % (method, auc, t1 - t0, t2 - t1),
              file=sys.stderr)
    out["total_seconds"] = time.perf_counter() - t_start
    print(json.dumps(out))


# --- the driver -------------------------------------------------------------------------------
def run_kizuki(a, out_dir):
    cmd = [os.path.join(a.build, "apps", "kizuki"), "benchmark", "--preset", "seed",
           "--dataset", a.dataset, "--trials", "1", "--seed", str(a.seed),
           "--methods", ",".join(METHODS), "--scorers", "lof", "--pretrained", a.weights,
           "--threads", str(a.threads), "--out", out_dir]
    if a.scale < 1:
        n = lambda k: str(max(2, int(round(k * a.scale))))  # noqa: E731
        cmd += ["--reference-per-class", n(1000), "--normal-train", n(1000), "--test-each",
                n(1000), "--epochs", "1"]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    total = time.perf_counter() - t0
    with open(os.path.join(out_dir, "results.json")) as f:
        r = json.load(f)
    methods = {t["method"]: {"train_seconds": t["train_seconds"], "auc": t["auc"]}
               for t in r["trials"]}
    return {"total_seconds": total, "methods": methods, "cpu": r["environment"].get("cpu", "")}


def run_torch(a):
    env = dict(os.environ, **TORCH_ENV)
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--dataset", a.dataset,
           "--threads", str(a.threads), "--seed", str(a.seed), "--weights", a.weights,
           "--scale", str(a.scale), "--format", a.format, "--fmnist-dir", a.fmnist_dir,
           "--cifar-dir", a.cifar_dir]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, check=True, env=env, stdout=subprocess.PIPE, text=True)
    total = time.perf_counter() - t0
    r = json.loads(p.stdout.strip().splitlines()[-1])
    r["process_seconds"] = total
    return r


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", choices=("fashion-mnist", "cifar10"), default="fashion-mnist")
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--scale", type=float, default=1.0,
                   help="fraction of every set size; below 1 also 1 epoch per method (smoke run)")
    p.add_argument("--format", choices=("channels_last", "contiguous"), default="channels_last")
    p.add_argument("--weights", default=WEIGHTS)
    p.add_argument("--build", default=os.path.join(REPO, "build"))
    p.add_argument("--fmnist-dir", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--cifar-dir", default=os.path.join(REPO, "..", "shared", "data", "cifar10"))
    p.add_argument("--json", help="write every round here")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        torch_trial(a)
        return
    if not os.path.exists(a.weights):
        sys.exit("seed_trial_vs_torch: no pretrained weights at %s (give --weights)" % a.weights)
    rounds = []
    for r in range(a.rounds):
        out_dir = "/tmp/kizuki_seed_trial_%d" % os.getpid()
        first_kizuki = r % 2 == 0
        result = {}
        for who in (("kizuki", "torch") if first_kizuki else ("torch", "kizuki")):
            result[who] = run_kizuki(a, out_dir) if who == "kizuki" else run_torch(a)
        result["ratio"] = result["torch"]["process_seconds"] / result["kizuki"]["total_seconds"]
        rounds.append(result)
        print("round %d: kizuki %.0f s, PyTorch %.0f s, ratio %.2fx" % (
            r + 1, result["kizuki"]["total_seconds"], result["torch"]["process_seconds"],
            result["ratio"]))
        for m in METHODS:
            k, t = result["kizuki"]["methods"].get(m, {}), result["torch"]["methods"][m]
            print("  %-10s train kizuki %7.1f s  PyTorch %7.1f s   AUC %.4f / %.4f" % (
                m, k.get("train_seconds", float("nan")), t["train_seconds"],
                k.get("auc", float("nan")), t["auc"]))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"settings": vars(a), "rounds": rounds}, f, indent=1)


if __name__ == "__main__":
    main()
