"""pretrained_training_torch.py — the PyTorch reference for kizuki's panda and msc methods
(anomaly/methods/panda.cpp, msc.cpp): the same network, initialisation, optimiser, losses and
scores, run on the benchmark protocol, so a surprising kizuki AUC can be told apart from a bug.

How it mirrors kizuki (file references are to this repository):
- Network: torchvision's mobilenet_v2 features (the names kizuki uses, layers/mobilenet_v2.h)
  with global average pooling, F = 1280 * max(1, width). Random: torchvision's own
  initialisation (kizuki's is the same distribution from another generator). Pretrained
  (--pretrained, e.g. ../shared/data/weights/mobilenet_v2_1.0_imagenet.safetensors): loaded
  strictly; bn_eps and TF "SAME" padding of the stride-2 convs from the file's __metadata__,
  pixels in [-1, 1]. Without it: width 0.5, pixels in [0, 1] (the scratch/quick presets).
- Data (data/loader.h): the images resized bilinearly (align_corners False) to --image-size,
  grey copied to RGB. Protocol as scripts/reconstruction_torch.py: 1000 normal training
  images; test 1000 normal + 1000 anomalous; the images drawn differ from kizuki's (numpy's
  generator), the protocol does not.
- Both methods (anomaly/experiment.cpp pretrained_training_preset): batch norm in eval mode
  throughout, features.0 ... features.13 frozen, SGD with weight decay 5e-5.
    panda  c = the mean pretrained feature of the normal set; loss mean ||phi - c||^2 +
           (lambda/2) sum F_i (theta_i - theta0_i)^2, F = 1 (L2-SP) or, with --fisher, the
           mean over reference batches of the squared gradient of mean ||phi - c_ref||^2,
           scaled to mean 1 (the reference set: 1000 images of each other class, or
           --reference-per-class); lambda 1e4; lr 1e-2, momentum 0.9, batch 32, gradient norm
           clipped to 1e-3; frozen blocks' outputs cached (no augmentation).
    msc    z = phi/||phi||, c = the normalised mean z; two views per image by
           RandomResizedCrop(size, scale (0.2, 1)), RandomApply(ColorJitter(0.4, 0.4, 0.4,
           0.1), p 0.8), RandomGrayscale(0.2), RandomHorizontalFlip; loss the authors'
           contrastive_loss (tau 0.25) of the mean-shifted views + the angular term; lr 1e-5,
           batch 64; features scored: z.
- Scores (anomaly/experiment.cpp score_features): knn = the distance to the k-th nearest
  normal training feature after a MinMaxScaler fitted on them (k = --knn-k, default 2);
  cosine = 1 - the largest cosine similarity to a normal training feature. AUC: sklearn.

Run from the repository root (the quick preset: 32 px, width 0.5, random weights, 3 epochs):
  /usr/bin/python3 scripts/pretrained_training_torch.py --dataset fashion-mnist --trials 2 \
      --epochs 3 --threads 1 --json /tmp/pretrained_torch_fmnist.json
The seed preset (96 px, ImageNet weights; 15 epochs of panda, 20 of msc):
  /usr/bin/python3 scripts/pretrained_training_torch.py --dataset cifar10 --image-size 96 \
      --pretrained ../shared/data/weights/mobilenet_v2_1.0_imagenet.safetensors
"""
import argparse
import json
import os
import statistics
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
import torchvision.transforms as T
from sklearn.metrics import roc_auc_score

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reconstruction_torch import CLASSES, load_cifar10, load_fashion_mnist  # noqa: E402

FROZEN = 14


# --- network -------------------------------------------------------------------------------

def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        blob = f.read()
    meta = header.pop("__metadata__", {})
    tensors = {}
    for name, h in header.items():
        a, b = h["data_offsets"]
        tensors[name] = torch.from_numpy(
            np.frombuffer(blob[a:b], np.float32).reshape(h["shape"]).copy())
    return tensors, meta


class TfSame(nn.Module):
    """A stride-2 conv with TF "SAME" padding: total max((ceil(H/s)-1)s + k - H, 0), the
    smaller half top/left (layers/conv.h)."""

    def __init__(self, conv):
        super().__init__()
        self.conv = conv
        conv.padding = (0, 0)

    def forward(self, x):
        k, s = self.conv.kernel_size[0], self.conv.stride[0]
        pads = []
        for size in (x.shape[3], x.shape[2]):
            total = max((-(-size // s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        return self.conv(F.pad(x, pads))


def make_backbone(width, pretrained):
    net = torchvision.models.mobilenet_v2(width_mult=width).features
    if pretrained:
        state, meta = read_safetensors(pretrained)
        state = {k[len("features."):]: v for k, v in state.items()}
        eps = float(meta.get("bn_eps", 1e-5))
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eps = eps
        missing, unexpected = net.load_state_dict(state, strict=False)
        missing = [k for k in missing if not k.endswith("num_batches_tracked")]
        assert not missing and not unexpected, (missing, unexpected)
        if meta.get("padding", "").startswith("tf_same"):
            for parent in list(net.modules()):
                for name, child in list(parent.named_children()):
                    if isinstance(child, nn.Conv2d) and child.stride[0] == 2:
                        setattr(parent, name, TfSame(child))
    return net


def run(net, x, start, stop):
    for b in range(start, stop):
        x = net[b](x)
    return x


def pooled(net, x, start=0):
    return run(net, x, start, len(net)).mean(dim=(2, 3))


def freeze(net, frozen):
    net.eval()
    params = []
    for b, block in enumerate(net):
        for p in block.parameters():
            p.requires_grad_(b >= frozen)
            if b >= frozen:
                params.append(p)
    return params


# --- data ----------------------------------------------------------------------------------

def prepare(images, size):
    """uint8 (N,C,H,W) -> float 0..255 (N,3,size,size)."""
    x = torch.from_numpy(images.astype(np.float32))
    if x.shape[2] != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    return x.expand(-1, 3, -1, -1).contiguous() if x.shape[1] == 1 else x


def scale(x, symmetric):
    return x / 127.5 - 1.0 if symmetric else x / 255.0


def split(data, normal, anomaly, seed, ref_per_class, n_train=1000, n_test_each=1000):
    rng = np.random.default_rng(seed)

    def draw(part, c, n):
        x, y = data[part]
        members = np.flatnonzero(y == c)
        return x[members[rng.permutation(len(members))[:n]]]

    train = draw("train", normal, n_train)
    test = np.concatenate([draw("test", normal, n_test_each), draw("test", anomaly, n_test_each)])
    labels = np.r_[np.zeros(n_test_each), np.ones(n_test_each)]
    reference = np.concatenate([draw("train", c, ref_per_class) for c in range(10)
                                if c not in (normal, anomaly)])
    return train, test, labels, reference


@torch.no_grad()
def embed(net, x, symmetric, normalise, chunk=256):
    net.eval()
    f = torch.cat([pooled(net, scale(x[i:i + chunk], symmetric)) for i in range(0, len(x), chunk)])
    return F.normalize(f, dim=1) if normalise else f


# --- panda ---------------------------------------------------------------------------------

def panda(net, train, reference, a, seed):
    params = freeze(net, FROZEN)
    with torch.no_grad():
        cache = torch.cat([run(net, scale(train[i:i + 256], a.symmetric), 0, FROZEN)
                           for i in range(0, len(train), 256)])
        center = pooled(net, cache, FROZEN).mean(0)
    anchors = [p.detach().clone() for p in params]
    fisher = [torch.ones_like(p) for p in params]
    if a.fisher:
        with torch.no_grad():
            ref = torch.cat([run(net, scale(reference[i:i + 256], a.symmetric), 0, FROZEN)
                             for i in range(0, len(reference), 256)])
            c_ref = pooled(net, ref, FROZEN).mean(0)
        fisher = [torch.zeros_like(p) for p in params]
        for i in range(0, len(ref), 32):
            net.zero_grad()
            ((pooled(net, ref[i:i + 32], FROZEN) - c_ref) ** 2).sum(1).mean().backward()
            for f, p in zip(fisher, params):
                f += p.grad ** 2
        total = sum(f.sum() for f in fisher)
        count = sum(f.numel() for f in fisher)
        fisher = [f * (count / total) for f in fisher]
    opt = torch.optim.SGD(params, lr=1e-2, momentum=0.9, weight_decay=5e-5)
    order = torch.Generator().manual_seed(seed)
    for epoch in range(a.epochs):
        perm = torch.randperm(len(cache), generator=order)
        total = 0.0
        for start in range(0, len(cache), 32):
            f = pooled(net, cache[perm[start:start + 32]], FROZEN)
            loss = ((f - center) ** 2).sum(1).mean()
            loss = loss + a.panda_lambda / 2 * sum(
                (w * (p - p0) ** 2).sum() for p, p0, w in zip(params, anchors, fisher))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(params, 1e-3)
            opt.step()
            total += loss.item()
        print("  panda epoch %d loss %.4f" % (epoch + 1, total / -(-len(cache) // 32)), flush=True)
    return False  # features scored as they are


# --- msc -----------------------------------------------------------------------------------

def contrastive_loss(out_1, out_2, temp=0.25):  # the authors' (Mean-Shifted-Anomaly-Detection)
    out_1 = F.normalize(out_1, dim=-1)
    out_2 = F.normalize(out_2, dim=-1)
    bs = out_1.size(0)
    out = torch.cat([out_1, out_2], dim=0)
    sim_matrix = torch.exp(torch.mm(out, out.t().contiguous()) / temp)
    mask = (torch.ones_like(sim_matrix) - torch.eye(2 * bs)).bool()
    sim_matrix = sim_matrix.masked_select(mask).view(2 * bs, -1)
    pos_sim = torch.exp(torch.sum(out_1 * out_2, dim=-1) / temp)
    pos_sim = torch.cat([pos_sim, pos_sim], dim=0)
    return (- torch.log(pos_sim / sim_matrix.sum(dim=-1))).mean()


def msc(net, train, reference, a, seed):
    params = freeze(net, FROZEN)
    center = F.normalize(embed(net, train, a.symmetric, True).mean(0), dim=0)
    size = train.shape[2]
    view = T.Compose([T.RandomResizedCrop(size, scale=(0.2, 1.0)),
                      T.RandomApply([T.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
                      T.RandomGrayscale(p=0.2), T.RandomHorizontalFlip()])
    opt = torch.optim.SGD(params, lr=a.msc_lr, weight_decay=5e-5)
    order = torch.Generator().manual_seed(seed)
    unit = train / 255.0
    for epoch in range(a.epochs):
        perm = torch.randperm(len(train), generator=order)
        total, batches = 0.0, 0
        for start in range(0, len(train), 64):
            x = unit[perm[start:start + 64]]
            if len(x) < 2:
                continue
            x1 = torch.stack([view(img) for img in x]) * 255.0
            x2 = torch.stack([view(img) for img in x]) * 255.0
            z1 = F.normalize(pooled(net, scale(x1, a.symmetric)), dim=-1) - center
            z2 = F.normalize(pooled(net, scale(x2, a.symmetric)), dim=-1) - center
            loss = contrastive_loss(z1, z2)
            loss = loss + (z1 ** 2).sum(dim=1).mean() + (z2 ** 2).sum(dim=1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
            batches += 1
        print("  msc epoch %d loss %.4f" % (epoch + 1, total / batches), flush=True)
    return True  # z scored


# --- scores and driver ---------------------------------------------------------------------

def knn_scores(train, test, k):
    lo, hi = train.min(0).values, train.max(0).values
    span = torch.where(hi > lo, hi - lo, torch.ones_like(hi))
    tr, te = (train - lo) / span, (test - lo) / span
    d = torch.cdist(te.double(), tr.double())
    return d.topk(min(k, len(tr)), dim=1, largest=False).values[:, -1].numpy()


def cosine_scores(train, test):
    return (1 - (F.normalize(test, dim=1) @ F.normalize(train, dim=1).t()).max(1).values).numpy()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", choices=sorted(CLASSES), default="fashion-mnist")
    p.add_argument("--methods", default="frozen,panda,msc")
    p.add_argument("--trials", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--pretrained", default="")
    p.add_argument("--fisher", action="store_true", help="panda: EWC instead of L2-SP")
    p.add_argument("--panda-lambda", type=float, default=1e4)
    p.add_argument("--msc-lr", type=float, default=1e-5)
    p.add_argument("--knn-k", type=int, default=2)
    p.add_argument("--reference-per-class", type=int, default=500)
    p.add_argument("--fmnist-dir", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--cifar-dir", default=os.path.join(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))), "..", "shared", "data", "cifar10"))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", help="write the results here")
    a = p.parse_args()
    a.symmetric = bool(a.pretrained)
    width = 1.0 if a.pretrained else 0.5
    torch.set_num_threads(a.threads)
    data = (load_fashion_mnist(a.fmnist_dir) if a.dataset == "fashion-mnist"
            else load_cifar10(a.cifar_dir))
    normal, anomaly = CLASSES[a.dataset]
    train_fns = {"frozen": lambda *_: False, "panda": panda, "msc": msc}
    methods = a.methods.split(",")
    for m in methods:
        if m not in train_fns:
            p.error("unknown method %r (%s)" % (m, ", ".join(train_fns)))
    rows = []
    for t in range(a.trials):
        seed = a.seed + t
        tr, te, labels, ref = split(data, normal, anomaly, seed, a.reference_per_class)
        tr, te, ref = (prepare(x, a.image_size) for x in (tr, te, ref))
        for m in methods:
            torch.manual_seed(seed)
            net = make_backbone(width, a.pretrained)
            start = time.time()
            normalise = train_fns[m](net, tr, ref, a, seed)
            seconds = time.time() - start
            f_train, f_test = embed(net, tr, a.symmetric, normalise), embed(net, te, a.symmetric, normalise)
            for scorer, s in (("knn", knn_scores(f_train, f_test, a.knn_k)),
                              ("cosine", cosine_scores(f_train, f_test))):
                auc = float(roc_auc_score(labels, s))
                rows.append({"dataset": a.dataset, "method": m, "scorer": scorer, "trial": t,
                             "seed": seed, "auc": auc, "train_seconds": round(seconds, 2)})
                print("trial %d  %-7s %-7s AUC %.4f   (train %.1f s)" % (t, m, scorer, auc, seconds),
                      flush=True)
    print("\n%-7s %-7s  median    min    max" % ("method", "scorer"))
    for m in methods:
        for scorer in ("knn", "cosine"):
            aucs = [r["auc"] for r in rows if r["method"] == m and r["scorer"] == scorer]
            print("%-7s %-7s  %.4f %.4f %.4f" % (m, scorer, statistics.median(aucs), min(aucs),
                                                  max(aucs)))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"settings": vars(a) | {"torch": torch.__version__, "width": width},
                       "results": rows}, f, indent=1)


if __name__ == "__main__":
    main()
