"""metric_torch.py — the PyTorch reference for kizuki's MobileNetV2 classifier methods
(l2softmax, arcface, adacos, adacos-fixed, geom, goad, deepsad, twin, cutpaste) at the scratch and quick presets: the same
network, initialisation, optimiser, heads and scores on the benchmark protocol, so a
surprising kizuki AUC can be told apart from a bug.

How it mirrors kizuki (file references are to this repository):
- Network: torchvision's mobilenet_v2(width_mult) features + global average pooling, the
  network kizuki's layers/mobilenet_v2.h reproduces (same names, same initialisation:
  kaiming-normal fan-out convs, BN weight 1 bias 0), F = 1280 pooled features at width 0.5.
- Data (data/loader.h, anomaly/experiment.cpp preset_options): pixels/255 in [0, 1], grey
  Fashion-MNIST repeated to 3 channels, bilinear resize to 32 px (F.interpolate,
  align_corners False), no augmentation.
- Protocol (data/split.h): the reference set is n images of every class other than the
  normal and the anomalous one (1000 each; 500 in the quick preset), labels 0..R-1 in
  ascending class order, the normal training images (1000) last with label R; the test set
  1000 normal + 1000 anomalous test-split images. The images drawn differ from kizuki's (its
  own generator); the protocol does not.
- Training (anomaly/methods/backbone.cpp ClassifierMethod): reference + normal shuffled every
  epoch, batch 128 with the last partial batch kept, Adam with AMSGrad, lr 1e-3, 10 epochs
  (quick: 3), BN in training mode, the whole network trained.
- Heads (losses/): l2softmax: Linear(α·f/‖f‖), α 15; arcface: s 30, m 0.05, Xavier-uniform
  weight; adacos: cosine logits, scale √2·ln(C−1), moved every step from the batch
  (losses/adacos.h, the paper's eq. 15); adacos-fixed keeps it.
- geom (anomaly/methods/geom.cpp, data/geometric.h): the normal training images alone, each
  step two images in all 72 transformations (flip, then rows and columns shifted by 0, -s,
  +s with s = side/4 and the edge-repeating reflection, then np.rot90 k times), Linear(F, 72)
  head, cross-entropy; 3 epochs (quick: 1); score nll = -sum over the 72 copies of the log
  probability of the right transformation.
- goad (anomaly/methods/goad.cpp, losses/triplet_centre.h): geom's network, data and steps;
  loss = cross-entropy + 0.1 x the authors' tc_loss (margin 1) on the (2, 72, F) features;
  centres = the mean eval-mode features of each transformation over the normal training
  images; score goad = -sum_m log softmax_k(-|f(T_m x) - c_k|^2)[m].
- deepsad (anomaly/methods/deepsad.cpp, losses/deep_sad.h): backbone + Linear(F, 128,
  bias=False); centre = mean output of the training images (normal + known anomalies) through
  the untrained network in eval mode, entries with 0 < |c| < 0.1 set to +-0.1; loss = the
  authors' Deep SAD loss (eta 1, eps 1e-6), known anomalies (--known-anomalies N, drawn from
  the anomaly class's training images) pushed away; batch 128, the classifiers' optimiser and
  epochs; score distance = |phi(x) - c|^2. With --known-anomalies the classifiers take them
  as one class more.
- twin (anomaly/methods/twin.cpp, data/defects.h): the normal training images alone, batch
  128, each image with its twin carrying one line defect (length U(min(1, side/5), side/5),
  width U(1, max(1, side/16)), a pixel start, angle U(0, 2pi), end clamped into the image,
  colour U(0,255) per channel or one grey for a grey image; pixels within width/2 of the
  segment), drawn afresh every step in numpy; ArcFace head (s 30, m 0.05) over normal /
  twin; the classifiers' optimiser and epochs; score gde (as cutpaste's), and cosine too.
- cutpaste (anomaly/methods/cutpaste.cpp, data/defects.h): each step 42 normal images
  (128 / 3) with a CutPaste copy (area U(0.02, 0.15), aspect log-uniform [0.3, 3.3],
  ColorJitter 0.1 — torchvision's on the patch) and a scar copy (2-16 x 10-25 px at 256 px
  scaled to the side, rotated U(-45, 45) degrees, nearest neighbour), Linear(F, 3) head,
  cross-entropy; the classifiers' optimiser and epochs; score gde = the squared Mahalanobis
  distance to the normal training features with scikit-learn's LedoitWolf covariance.
- Scores (anomaly/scorers.h): cosine = 1 − the largest cosine similarity to the normal
  training features (arcface, adacos); l2softmax: LOF (k 20) on MinMax-scaled features, the
  scaler fitted on the normal training features (scikit-learn's LocalOutlierFactor with
  novelty=True). Features in eval mode, no gradients.

Run from the repository root:
  /usr/bin/python3 scripts/metric_torch.py --dataset fashion-mnist --methods arcface,adacos \
      --trials 2 --preset quick --json /tmp/metric_torch_fmnist.json
"""
import json
import math
import os
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import LocalOutlierFactor
from sklearn.preprocessing import MinMaxScaler

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reconstruction_torch import driver_arguments, driver_setup  # noqa: E402

METHODS = ("l2softmax", "arcface", "adacos", "adacos-fixed", "geom", "goad", "deepsad", "twin",
           "cutpaste")
SCORER = {"l2softmax": "lof", "arcface": "cosine", "adacos": "cosine", "adacos-fixed": "cosine",
          "geom": "nll", "goad": "goad", "deepsad": "distance", "twin": "gde",
          "cutpaste": "gde"}


# --- data ----------------------------------------------------------------------------------

def split_with_reference(data, normal, anomaly, seed, n_reference, n_train=1000, n_test_each=1000,
                         n_known=0):
    """(training images, training labels, normal training images, test images, test labels,
    known anomalies); the classifiers' training set has the known anomalies as one class more."""
    rng = np.random.default_rng(seed)

    def draw(split, c, n):
        x, y = data[split]
        members = np.flatnonzero(y == c)
        return x[members[rng.permutation(len(members))[:n]]]

    others = [c for c in range(10) if c not in (normal, anomaly)]
    reference = [draw("train", c, n_reference) for c in others]
    normal_train = draw("train", normal, n_train)
    train_x = np.concatenate(reference + [normal_train])
    train_y = np.concatenate([np.full(len(r), i) for i, r in enumerate(reference)]
                             + [np.full(len(normal_train), len(others))]).astype(np.int64)
    test = np.concatenate([draw("test", normal, n_test_each), draw("test", anomaly, n_test_each)])
    labels = np.r_[np.zeros(n_test_each), np.ones(n_test_each)]
    known = draw("train", anomaly, n_known)
    if n_known > 0:
        train_x = np.concatenate([train_x, known])
        train_y = np.r_[train_y, np.full(n_known, len(others) + 1)].astype(np.int64)
    return (prepare(train_x), torch.from_numpy(train_y), prepare(normal_train), prepare(test),
            labels, prepare(known) if n_known > 0 else None)


def prepare(x):  # uint8 (N,C,H,W) -> float (N,3,32,32) in [0, 1]
    t = torch.from_numpy(x.astype(np.float32) / 255.0)
    if t.shape[1] == 1:
        t = t.repeat(1, 3, 1, 1)
    if t.shape[2] != 32:
        t = F.interpolate(t, size=(32, 32), mode="bilinear", align_corners=False)
    return t


# --- network and heads -----------------------------------------------------------------------

class Backbone(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.features = torchvision.models.mobilenet_v2(width_mult=width).features

    def forward(self, x):
        return F.adaptive_avg_pool2d(self.features(x), 1).flatten(1)


class L2SoftmaxHead(nn.Module):
    def __init__(self, d, c, alpha=15.0):
        super().__init__()
        self.fc, self.alpha = nn.Linear(d, c), alpha

    def forward(self, f, labels=None):
        return self.fc(self.alpha * F.normalize(f, dim=1))


class ArcFaceHead(nn.Module):
    def __init__(self, d, c, s=30.0, m=0.05):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(c, d))
        nn.init.xavier_uniform_(self.weight)
        self.s, self.m = s, m

    def forward(self, f, labels=None):
        cos = F.linear(F.normalize(f, dim=1), F.normalize(self.weight, dim=1))
        if labels is None:
            return self.s * cos
        sine = torch.sqrt(1.0 - cos.clamp(-1 + 1e-7, 1 - 1e-7) ** 2)
        phi = cos * math.cos(self.m) - sine * math.sin(self.m)
        phi = torch.where(cos > math.cos(math.pi - self.m), phi,
                          cos - math.sin(math.pi - self.m) * self.m)
        hot = F.one_hot(labels, cos.shape[1]).to(cos.dtype)
        return self.s * (hot * phi + (1 - hot) * cos)


class AdaCosHead(nn.Module):
    def __init__(self, d, c, dynamic):
        super().__init__()
        if c < 3:
            raise ValueError("AdaCos needs at least 3 classes")
        self.weight = nn.Parameter(torch.empty(c, d))
        nn.init.xavier_uniform_(self.weight)
        self.s, self.dynamic = math.sqrt(2.0) * math.log(c - 1), dynamic

    def forward(self, f, labels=None):
        cos = F.linear(F.normalize(f, dim=1), F.normalize(self.weight, dim=1))
        if labels is not None and self.dynamic and self.training:
            with torch.no_grad():
                theta = torch.acos(cos.clamp(-1 + 1e-7, 1 - 1e-7))
                hot = F.one_hot(labels, cos.shape[1])
                b_avg = torch.where(hot < 1, torch.exp(self.s * cos), torch.zeros_like(cos)).sum()
                b_avg = b_avg / cos.shape[0]
                theta_med = torch.median(theta[hot == 1])
                self.s = float(torch.log(b_avg) / torch.cos(theta_med.clamp(max=math.pi / 4)))
        return self.s * cos


def make_head(method, d, c):
    if method == "l2softmax":
        return L2SoftmaxHead(d, c)
    if method == "arcface":
        return ArcFaceHead(d, c)
    return AdaCosHead(d, c, dynamic=method == "adacos")


# --- GEOM's transformations (the authors' itertools.product order) ---------------------------

def geometric(x):  # (n,C,H,H) -> (n*72,C,H,H), image i's copy t at row i*72 + t
    side = x.shape[-1]
    s = side // 4
    pad = np.pad(x.numpy(), ((0, 0), (0, 0), (s, s), (s, s)), mode="symmetric")
    copies = []
    for flip in (False, True):
        for tx in (0, -s, s):
            for ty in (0, -s, s):
                for k in range(4):
                    src = pad[:, :, :, ::-1] if flip else pad  # flip first (symmetric pad commutes)
                    y = src[:, :, s + tx:s + tx + side, s + ty:s + ty + side]
                    copies.append(np.rot90(y, k, axes=(2, 3)))
    out = np.stack(copies, axis=1)  # (n,72,C,H,H)
    return torch.from_numpy(np.ascontiguousarray(out.reshape(-1, *x.shape[1:])))


def tc_loss(zs, margin=1.0):  # zs (B, M, F): GOAD's triplet-centre loss, as the authors wrote it
    means = zs.mean(0).unsqueeze(0)
    res = ((zs.unsqueeze(2) - means.unsqueeze(1)) ** 2).sum(-1)
    pos = torch.diagonal(res, dim1=1, dim2=2)
    offset = torch.diagflat(torch.ones(zs.size(1))).unsqueeze(0) * 1e6
    neg = (res + offset).min(-1)[0]
    return torch.clamp(pos + margin - neg, min=0).mean()


def train_geom(x, seed, epochs, width, goad=False, lr=1e-3, images_per_step=2):
    torch.manual_seed(seed)
    backbone = Backbone(width)
    with torch.no_grad():
        d = backbone(x[:2]).shape[1]
    head = nn.Linear(d, 72)
    opt = torch.optim.Adam(list(backbone.parameters()) + list(head.parameters()), lr=lr,
                           amsgrad=True)
    order = torch.Generator().manual_seed(seed)
    backbone.train()
    head.train()
    for epoch in range(epochs):
        perm = torch.randperm(len(x), generator=order)
        total = 0.0
        for start in range(0, len(x), images_per_step):
            idx = perm[start:start + images_per_step]
            copies = geometric(x[idx])
            labels = torch.arange(72).repeat(len(idx))
            z = backbone(copies)
            loss = F.cross_entropy(head(z), labels)
            if goad:
                loss = loss + 0.1 * tc_loss(z.reshape(len(idx), 72, -1))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        last_loss = total / len(x)
    return backbone, head, last_loss


@torch.no_grad()
def goad_centres(backbone, x, chunk=4):
    backbone.eval()
    total = sum(backbone(geometric(x[i:i + chunk])).reshape(-1, 72, backbone(x[:1]).shape[1]).sum(0)
                for i in range(0, len(x), chunk))
    return total / len(x)


@torch.no_grad()
def score_goad(backbone, centres, x, chunk=4):
    backbone.eval()
    out = []
    for i in range(0, len(x), chunk):
        zs = backbone(geometric(x[i:i + chunk])).reshape(-1, 72, centres.shape[1])
        diffs = ((zs.unsqueeze(2) - centres) ** 2).sum(-1)
        out.append(-torch.diagonal(F.log_softmax(-diffs, dim=2), 0, 1, 2).sum(1))
    return torch.cat(out).numpy()


@torch.no_grad()
def score_geom(backbone, head, x, chunk=4):
    backbone.eval()
    head.eval()
    out = []
    for i in range(0, len(x), chunk):
        n = len(x[i:i + chunk])
        logp = F.log_softmax(head(backbone(geometric(x[i:i + chunk]))), dim=1).reshape(n, 72, 72)
        out.append(-torch.diagonal(logp, dim1=1, dim2=2).sum(1))
    return torch.cat(out).numpy()


# --- Deep SAD ---------------------------------------------------------------------------------

def train_deepsad(normal_x, known_x, seed, epochs, width, batch_size=128, lr=1e-3):
    torch.manual_seed(seed)
    backbone = Backbone(width)
    with torch.no_grad():
        d = backbone(normal_x[:2]).shape[1]
    proj = nn.Linear(d, 128, bias=False)
    x = normal_x if known_x is None else torch.cat([normal_x, known_x])
    semi = torch.zeros(len(x), dtype=torch.int64)
    if known_x is not None:
        semi[len(normal_x):] = -1
    with torch.no_grad():  # the authors' init_center_c: eval mode, every training image
        backbone.eval()
        c = torch.cat([proj(backbone(x[i:i + 256])) for i in range(0, len(x), 256)]).mean(0)
        c[(abs(c) < 0.1) & (c < 0)] = -0.1
        c[(abs(c) < 0.1) & (c > 0)] = 0.1
    opt = torch.optim.Adam(list(backbone.parameters()) + list(proj.parameters()), lr=lr,
                           amsgrad=True)
    order = torch.Generator().manual_seed(seed)
    backbone.train()
    for epoch in range(epochs):
        perm = torch.randperm(len(x), generator=order)
        total = 0.0
        for start in range(0, len(x), batch_size):
            idx = perm[start:start + batch_size]
            if len(idx) < 2:
                continue
            dist = ((proj(backbone(x[idx])) - c) ** 2).sum(1)
            loss = torch.where(semi[idx] == 0, dist, (dist + 1e-6) ** semi[idx].float()).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        last_loss = total / len(x)
    return backbone, proj, c, last_loss


@torch.no_grad()
def score_deepsad(backbone, proj, c, x, chunk=256):
    backbone.eval()
    return torch.cat([((proj(backbone(x[i:i + chunk])) - c) ** 2).sum(1)
                      for i in range(0, len(x), chunk)]).numpy()


# --- synthetic defects (data/defects.h), in numpy on images (C,H,W) of pixel values 0..255 ----

def line_defect(img, rng):
    c, h, w = img.shape
    side = min(h, w)
    length = rng.uniform(min(1.0, side / 5), side / 5)
    width = rng.uniform(1.0, max(1.0, side / 16))
    y0, x0 = rng.integers(h), rng.integers(w)
    phi = rng.uniform(0, 2 * math.pi)
    y1 = min(max(y0 + length * math.sin(phi), 0), h - 1)
    x1 = min(max(x0 + length * math.cos(phi), 0), w - 1)
    grey = all(np.array_equal(img[0], img[k]) for k in range(1, c))
    colour = np.full(c, rng.uniform(0, 255)) if grey else rng.uniform(0, 255, c)
    yy, xx = np.meshgrid(np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64),
                         indexing="ij")
    dy, dx = y1 - y0, x1 - x0
    len2 = dy * dy + dx * dx
    t = np.clip(((yy - y0) * dy + (xx - x0) * dx) / len2, 0, 1) if len2 > 0 else 0.0
    mask = (yy - (y0 + t * dy)) ** 2 + (xx - (x0 + t * dx)) ** 2 <= (width / 2) ** 2
    out = img.copy()
    out[:, mask] = colour[:, None]
    return out


JITTER = torchvision.transforms.ColorJitter(0.1, 0.1, 0.1, 0.1)


def jittered(patch):  # (C,h,w) 0..255 -> torchvision's ColorJitter on [0, 1]
    return JITTER(torch.from_numpy(patch / 255.0).float()).numpy() * 255.0


def paste(img, patch, top, left, degrees):
    _, h, w = patch.shape
    t = math.radians(degrees)
    cs, sn = math.cos(t), math.sin(t)
    bh = max(1, math.ceil(h * abs(cs) + w * abs(sn) - 1e-6)) if degrees else h
    bw = max(1, math.ceil(w * abs(cs) + h * abs(sn) - 1e-6)) if degrees else w
    rr, qq = np.meshgrid(np.arange(bh), np.arange(bw), indexing="ij")
    dy, dx = rr + 0.5 - bh / 2.0, qq + 0.5 - bw / 2.0
    sy = np.floor(dx * sn + dy * cs + h / 2.0).astype(np.int64)
    sx = np.floor(dx * cs - dy * sn + w / 2.0).astype(np.int64)
    inside = (sy >= 0) & (sy < h) & (sx >= 0) & (sx < w)
    out = img.copy()
    out[:, rr[inside] + top, qq[inside] + left] = patch[:, sy[inside], sx[inside]]
    return out, bh, bw


def cut_paste(img, rng):
    _, h, w = img.shape
    area = rng.uniform(0.02, 0.15) * h * w
    aspect = math.exp(rng.uniform(math.log(0.3), math.log(3.3)))
    pw = min(max(round(math.sqrt(area * aspect)), 1), w)
    ph = min(max(round(math.sqrt(area / aspect)), 1), h)
    top, left = rng.integers(h - ph + 1), rng.integers(w - pw + 1)
    patch = jittered(img[:, top:top + ph, left:left + pw])
    return paste(img, patch, rng.integers(h - ph + 1), rng.integers(w - pw + 1), 0.0)[0]


def scar(img, rng):
    _, h, w = img.shape
    scale = min(h, w) / 256.0
    pw = min(max(round(rng.uniform(2, 16) * scale), 1), w)
    ph = min(max(round(rng.uniform(10, 25) * scale), 1), h)
    top, left = rng.integers(h - ph + 1), rng.integers(w - pw + 1)
    patch = jittered(img[:, top:top + ph, left:left + pw])
    degrees = rng.uniform(-45, 45)
    t = math.radians(degrees)
    bh = max(1, math.ceil(ph * abs(math.cos(t)) + pw * abs(math.sin(t)) - 1e-6))
    bw = max(1, math.ceil(pw * abs(math.cos(t)) + ph * abs(math.sin(t)) - 1e-6))
    return paste(img, patch, rng.integers(h - bh + 1), rng.integers(w - bw + 1), degrees)[0]


def with_defects(x, defect, rng):  # x (n,C,H,W) in [0, 1] -> the defective copies
    imgs = x.numpy().astype(np.float64) * 255.0
    return torch.from_numpy(np.stack([defect(i, rng) for i in imgs]) / 255.0).float()


def train_defects(method, normal_x, seed, epochs, width, batch_size=128, lr=1e-3):
    """twin: normal / line twin through an ArcFace head; cutpaste: normal / cutpaste / scar
    through a linear head (see the file's description)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    backbone = Backbone(width)
    with torch.no_grad():
        d = backbone(normal_x[:2]).shape[1]
    head = ArcFaceHead(d, 2) if method == "twin" else nn.Linear(d, 3)
    opt = torch.optim.Adam(list(backbone.parameters()) + list(head.parameters()), lr=lr,
                           amsgrad=True)
    step = batch_size if method == "twin" else max(1, batch_size // 3)
    order = torch.Generator().manual_seed(seed)
    backbone.train()
    head.train()
    for epoch in range(epochs):
        perm = torch.randperm(len(normal_x), generator=order)
        total = 0.0
        for start in range(0, len(normal_x), step):
            x = normal_x[perm[start:start + step]]
            if method == "twin":
                rows = torch.cat([x, with_defects(x, line_defect, rng)])
                y = torch.arange(2).repeat_interleave(len(x))
                loss = F.cross_entropy(head(backbone(rows), y), y)
            else:
                rows = torch.cat([x, with_defects(x, cut_paste, rng), with_defects(x, scar, rng)])
                y = torch.arange(3).repeat_interleave(len(x))
                loss = F.cross_entropy(head(backbone(rows)), y)
            if not torch.isfinite(loss):
                raise RuntimeError("%s: loss %s at epoch %d" % (method, loss.item(), epoch))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(x)
        last_loss = total / len(normal_x)
    return backbone, last_loss


def score_gde(train_f, test_f):
    from sklearn.covariance import LedoitWolf
    lw = LedoitWolf().fit(train_f.astype(np.float64))
    d = test_f.astype(np.float64) - lw.location_
    return np.einsum("ij,jk,ik->i", d, lw.precision_, d)


# --- training and scoring --------------------------------------------------------------------

def train(method, x, y, seed, epochs, width, batch_size=128, lr=1e-3):
    torch.manual_seed(seed)
    backbone = Backbone(width)
    with torch.no_grad():
        d = backbone(x[:2]).shape[1]
    head = make_head(method, d, int(y.max()) + 1)
    opt = torch.optim.Adam(list(backbone.parameters()) + list(head.parameters()), lr=lr,
                           amsgrad=True)
    order = torch.Generator().manual_seed(seed)
    backbone.train()
    head.train()
    for epoch in range(epochs):
        perm = torch.randperm(len(x), generator=order)
        total = 0.0
        for start in range(0, len(x), batch_size):
            idx = perm[start:start + batch_size]
            if len(idx) < 2:  # batch norm needs two images
                continue
            loss = F.cross_entropy(head(backbone(x[idx]), y[idx]), y[idx])
            if not torch.isfinite(loss):
                raise RuntimeError("%s: loss %s at epoch %d" % (method, loss.item(), epoch))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        last_loss = total / len(x)
    return backbone, last_loss


@torch.no_grad()
def embed(backbone, x, chunk=256):
    backbone.eval()
    return torch.cat([backbone(x[i:i + chunk]) for i in range(0, len(x), chunk)]).numpy()


def score(scorer, train_f, test_f):
    if scorer == "cosine":
        a = train_f / np.linalg.norm(train_f, axis=1, keepdims=True)
        b = test_f / np.linalg.norm(test_f, axis=1, keepdims=True)
        return 1.0 - (b @ a.T).max(axis=1)
    scaler = MinMaxScaler().fit(train_f)
    lof = LocalOutlierFactor(n_neighbors=20, novelty=True).fit(scaler.transform(train_f))
    return -lof.score_samples(scaler.transform(test_f))


# --- driver ----------------------------------------------------------------------------------

def main():
    p = driver_arguments(__doc__.split("\n\n")[0], "arcface,adacos", 2)
    p.add_argument("--preset", choices=("quick", "scratch"), default="scratch")
    p.add_argument("--width", type=float, default=0.5)
    p.add_argument("--known-anomalies", type=int, default=0)
    a = p.parse_args()
    methods, data, normal, anomaly = driver_setup(p, a, METHODS)
    epochs = 3 if a.preset == "quick" else 10
    n_reference = 500 if a.preset == "quick" else 1000

    rows = []
    for t in range(a.trials):
        seed = a.seed + t
        x, y, normal_x, test_x, labels, known_x = split_with_reference(
            data, normal, anomaly, seed, n_reference, n_known=a.known_anomalies)
        for m in methods:
            start = time.time()
            if m == "deepsad":
                backbone, proj, c, loss = train_deepsad(normal_x, known_x, seed, epochs, a.width)
                seconds = time.time() - start
                s = score_deepsad(backbone, proj, c, test_x)
            elif m in ("geom", "goad"):
                backbone, head, loss = train_geom(normal_x, seed, 1 if a.preset == "quick" else 3,
                                                  a.width, goad=m == "goad")
                seconds = time.time() - start
                s = (score_geom(backbone, head, test_x) if m == "geom" else
                     score_goad(backbone, goad_centres(backbone, normal_x), test_x))
            elif m in ("twin", "cutpaste"):
                backbone, loss = train_defects(m, normal_x, seed, epochs, a.width)
                seconds = time.time() - start
                train_f, test_f = embed(backbone, normal_x), embed(backbone, test_x)
                s = score_gde(train_f, test_f)
                if m == "twin":  # cosine too, as a second row
                    auc = float(roc_auc_score(labels, score("cosine", train_f, test_f)))
                    rows.append({"dataset": a.dataset, "method": m, "scorer": "cosine", "trial": t,
                                 "seed": seed, "auc": auc, "train_seconds": round(seconds, 2),
                                 "final_loss": loss})
                    print("trial %d  %-13s %-7s AUC %.4f" % (t, m, "cosine", auc), flush=True)
            else:
                backbone, loss = train(m, x, y, seed, epochs, a.width)
                seconds = time.time() - start
                s = score(SCORER[m], embed(backbone, normal_x), embed(backbone, test_x))
            auc = float(roc_auc_score(labels, s))
            rows.append({"dataset": a.dataset, "method": m, "scorer": SCORER[m], "trial": t,
                         "seed": seed, "auc": auc, "train_seconds": round(seconds, 2),
                         "final_loss": loss})
            print("trial %d  %-13s %-7s AUC %.4f   (train %.1f s, loss %.4g)"
                  % (t, m, SCORER[m], auc, seconds, loss), flush=True)

    print("\n%-13s %-7s  median    min    max" % ("method", "scorer"))
    for m in methods:
        for sc in dict.fromkeys(r["scorer"] for r in rows if r["method"] == m):
            aucs = [r["auc"] for r in rows if r["method"] == m and r["scorer"] == sc]
            print("%-13s %-7s  %.4f %.4f %.4f" % (m, sc, statistics.median(aucs), min(aucs),
                                                  max(aucs)))
    if a.json:
        settings = {"dataset": a.dataset, "preset": a.preset, "normal_class": normal,
                    "anomaly_class": anomaly, "n_reference_per_class": n_reference,
                    "methods": methods, "trials": a.trials, "seed": a.seed, "epochs": epochs,
                    "width": a.width, "known_anomalies": a.known_anomalies, "batch_size": 128, "optimizer": "adam", "amsgrad": True,
                    "lr": 1e-3, "threads": a.threads, "torch": torch.__version__}
        with open(a.json, "w") as f:
            json.dump({"settings": settings, "results": rows}, f, indent=1)


if __name__ == "__main__":
    main()
