"""reconstruction_torch.py — the PyTorch reference for kizuki's reconstruction methods (ae,
vae, ssim-ae): the same networks, initialisation, optimiser, losses and scores, run on the
benchmark protocol, so a surprising kizuki AUC can be told apart from a bug.

How it mirrors kizuki (file references are to this repository):
- Networks: layers/conv_autoencoder.{h,cpp}, layers/conv_vae.{h,cpp}. The nn.Module tree is
  kizuki's, so state_dict names are identical (encoder.features.{i}, encoder.fc, decoder.fc,
  decoder.features.{i}). Stages 32/64/128 (images <= 64 px), Conv2d(k 4, s 2, p 1) - BN -
  LeakyReLU(0.2); the decoder's ConvTranspose2d output_padding gives back 28 px exactly.
  Initialisation = PyTorch's defaults (layers/linear.h, conv.h, conv_transpose.h,
  batch_norm.h: eps 1e-5, momentum 0.1).
- Training (anomaly/methods/reconstruction.cpp, anomaly/experiment.cpp reconstruction_preset,
  data/loader.h): pixels/255 in [0, 1], the data's own size and channels (Fashion-MNIST 28 px
  grey, CIFAR-10 32 px RGB), Adam lr 1e-3 (not AMSGrad), batch 64 shuffled every epoch with
  the last partial batch kept (drop_last = false), latent 128, 30 epochs.
- Losses and scores (anomaly/methods/{ae,vae,ssim_ae}.cpp, losses/{ssim,gaussian}.h):
    ae       loss mean squared error;  score mse = per-image sum of squared error
    vae      loss mean over the batch of -log p(x|z) + KL, one reparameterised sample;
             decoder gives 2C channels: mean = sigmoid(first C), logvar = -6 + softplus(last
             C + 6); -log p = sum 1/2 (log 2pi + logvar + (x - m)^2 / v).
             scores elbo = NLL at z = mu + KL; recon-prob = -(logsumexp_l log p(x|z_l) - log L),
             L = 10; unregularized = NLL at z = mu
    ssim-ae  loss (1/N) sum over images, channels and pixels of (1 - SSIM map); SSIM with a
             Gaussian window (sigma 1.5, 7x7 for images <= 32 px, else 11x11), mirror padding
             with the edge repeated (numpy 'symmetric' = scipy 'reflect'), C1 = 0.01^2,
             C2 = 0.03^2, population moments, full (uncropped) map.
             scores ssim = mean of (1 - SSIM) over pixels and channels; ssim-max = the largest
             3x3-patch mean (patches inside the map) of the channel-averaged 1 - SSIM
  Scoring in eval mode (BatchNorm running statistics), no gradients, chunks of 256.
- Protocol (DESIGN.md section 7, data/split.h): 1000 random normal training images, test =
  1000 normal + 1000 anomalous test-split images; Fashion-MNIST 7 (sneaker) vs 9 (ankle boot),
  CIFAR-10 4 (deer) vs 7 (horse). Trial t uses seed S + t for the split (numpy) and for
  torch.manual_seed; the images drawn differ from kizuki's (its own generator), the protocol
  does not. AUC: sklearn roc_auc_score, anomaly = 1, higher score = more anomalous.

Run from the repository root:
  /usr/bin/python3 scripts/reconstruction_torch.py --dataset fashion-mnist --trials 2 \
      --json /tmp/recon_torch_fmnist.json
  /usr/bin/python3 scripts/reconstruction_torch.py --dataset cifar10 \
      --cifar-dir ../shared/data/cifar10 --methods ae,ssim-ae --epochs 30
On a shared machine whose cores are all busy, use --threads 1: two OpenMP threads then ran
10-30x slower than one (a team thread descheduled stalls every barrier).
"""
import argparse
import gzip
import json
import math
import os
import statistics
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLASSES = {"fashion-mnist": (7, 9), "cifar10": (4, 7)}  # (normal, anomaly)
SCORES = {"ae": ["mse"], "vae": ["elbo", "recon-prob", "unregularized"],
          "ssim-ae": ["ssim", "ssim-max"]}
MIN_LOGVAR = -6.0


# --- data ---------------------------------------------------------------------------------

def load_fashion_mnist(folder):
    def idx(name, offset):
        with gzip.open(os.path.join(folder, name), "rb") as f:
            return np.frombuffer(f.read(), np.uint8, offset=offset)
    out = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        x = idx(prefix + "-images-idx3-ubyte.gz", 16).reshape(-1, 1, 28, 28)
        y = idx(prefix + "-labels-idx1-ubyte.gz", 8).astype(np.int64)
        out[split] = (x, y)
    return out


def load_cifar10(folder):
    def batches(names):
        raw = np.concatenate([np.fromfile(os.path.join(folder, n), np.uint8).reshape(-1, 3073)
                              for n in names])
        return raw[:, 1:].reshape(-1, 3, 32, 32), raw[:, 0].astype(np.int64)
    return {"train": batches(["data_batch_%d.bin" % i for i in range(1, 6)]),
            "test": batches(["test_batch.bin"])}


def benchmark_split(data, normal, anomaly, seed, n_train=1000, n_test_each=1000):
    """(normal training images, test images, test labels) as float tensors in [0, 1]."""
    rng = np.random.default_rng(seed)

    def draw(split, c, n):
        x, y = data[split]
        members = np.flatnonzero(y == c)
        return x[members[rng.permutation(len(members))[:n]]]

    train = draw("train", normal, n_train)
    test = np.concatenate([draw("test", normal, n_test_each), draw("test", anomaly, n_test_each)])
    labels = np.r_[np.zeros(n_test_each), np.ones(n_test_each)]
    unit = lambda a: torch.from_numpy(a.astype(np.float32) / 255.0)  # noqa: E731
    return unit(train), unit(test), labels


# --- networks (layers/conv_autoencoder.h, layers/conv_vae.h) -------------------------------

def stage_sizes(size, stages):
    s = [size]
    for _ in range(stages):
        s.append(s[-1] // 2)
    return s


class ConvEncoder(nn.Module):
    def __init__(self, channels, size, out_features, widths, slope=0.2):
        super().__init__()
        layers, c = [], channels
        for w in widths:
            layers += [nn.Conv2d(c, w, 4, 2, 1), nn.BatchNorm2d(w), nn.LeakyReLU(slope)]
            c = w
        self.features = nn.Sequential(*layers)
        s = stage_sizes(size, len(widths))[-1]
        self.fc = nn.Linear(c * s * s, out_features)

    def forward(self, x):
        return self.fc(torch.flatten(self.features(x), 1))


class ConvDecoder(nn.Module):
    def __init__(self, latent, size, out_channels, widths, slope=0.2):
        super().__init__()
        s = stage_sizes(size, len(widths))
        self.first = (widths[-1], s[-1], s[-1])
        self.fc = nn.Linear(latent, widths[-1] * s[-1] * s[-1])
        layers = [nn.BatchNorm2d(widths[-1]), nn.LeakyReLU(slope)]
        for i in range(len(widths), 0, -1):
            out = out_channels if i == 1 else widths[i - 2]
            layers.append(nn.ConvTranspose2d(widths[i - 1], out, 4, 2, 1,
                                             output_padding=s[i - 1] - 2 * s[i]))
            if i > 1:
                layers += [nn.BatchNorm2d(out), nn.LeakyReLU(slope)]
        self.features = nn.Sequential(*layers)

    def forward(self, z):  # logits
        return self.features(self.fc(z).view(z.shape[0], *self.first))


def default_widths(size):
    return [32, 64, 128] if size <= 64 else [32, 64, 128, 256]


class ConvAutoencoder(nn.Module):
    def __init__(self, channels, size, latent=128):
        super().__init__()
        w = default_widths(size)
        self.encoder = ConvEncoder(channels, size, latent, w)
        self.decoder = ConvDecoder(latent, size, channels, w)

    def forward(self, x):
        return torch.sigmoid(self.decoder(self.encoder(x)))


class ConvVAE(nn.Module):
    def __init__(self, channels, size, latent=128):
        super().__init__()
        w = default_widths(size)
        self.latent, self.channels = latent, channels
        self.encoder = ConvEncoder(channels, size, 2 * latent, w)
        self.decoder = ConvDecoder(latent, size, 2 * channels, w)

    def encode(self, x):  # (mu, logvar)
        return self.encoder(x).split(self.latent, 1)

    def decode(self, z):  # (mean, logvar) of p(x|z)
        m, raw = self.decoder(z).split(self.channels, 1)
        return torch.sigmoid(m), F.softplus(raw - MIN_LOGVAR) + MIN_LOGVAR


# --- losses (losses/gaussian.h, losses/ssim.h) --------------------------------------------

def gaussian_nll(x, mean, logvar):  # (N)
    return (0.5 * (math.log(2 * math.pi) + logvar + (x - mean) ** 2 * torch.exp(-logvar))
            ).flatten(1).sum(1)


def gaussian_kl(mu, logvar):  # (N)
    return -0.5 * (1 + logvar - mu * mu - logvar.exp()).sum(1)


def reparameterize(mu, logvar, gen=None):
    return mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=gen)


def pad_symmetric(x, r):  # d c b a | a b c d, on H and W
    x = torch.cat([x[:, :, :r].flip(2), x, x[:, :, -r:].flip(2)], 2)
    return torch.cat([x[:, :, :, :r].flip(3), x, x[:, :, :, -r:].flip(3)], 3)


def ssim_map(x, y, sigma=1.5, k1=0.01, k2=0.03, data_range=1.0):  # (N,C,H,W)
    c, size = x.shape[1], min(x.shape[2:])
    w = 7 if size <= 32 else 11
    r = w // 2
    g = torch.exp(-0.5 * (torch.arange(w, dtype=torch.float64) - r) ** 2 / sigma ** 2)
    g = (g / g.sum()).float()
    window = torch.outer(g, g).expand(c, 1, w, w)
    filt = lambda t: F.conv2d(t, window, groups=c)  # noqa: E731
    xp, yp = pad_symmetric(x, r), pad_symmetric(y, r)
    mx, my = filt(xp), filt(yp)
    vx, vy = filt(xp * xp) - mx * mx, filt(yp * yp) - my * my
    cxy = filt(xp * yp) - mx * my
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    return ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))


# --- methods -------------------------------------------------------------------------------

def make_network(method, channels, size):
    return (ConvVAE if method == "vae" else ConvAutoencoder)(channels, size)


def batch_loss(method, net, x):
    if method == "ae":
        return F.mse_loss(net(x), x)
    if method == "ssim-ae":
        return (1 - ssim_map(net(x), x)).sum() / x.shape[0]
    mu, logvar = net.encode(x)
    mean, v = net.decode(reparameterize(mu, logvar))
    return (gaussian_nll(x, mean, v) + gaussian_kl(mu, logvar)).mean()


def batch_scores(method, net, x, gen, samples=10):  # {score name: (N)}
    if method == "ae":
        return {"mse": ((net(x) - x) ** 2).sum((1, 2, 3))}
    if method == "ssim-ae":
        d = (1 - ssim_map(net(x), x)).mean(1)  # (N,H,W), channel-averaged
        return {"ssim": d.mean((1, 2)),
                "ssim-max": F.avg_pool2d(d.unsqueeze(1), 3, stride=1).flatten(1).amax(1)}
    mu, logvar = net.encode(x)
    nll = gaussian_nll(x, *net.decode(mu))
    log_p = torch.stack([-gaussian_nll(x, *net.decode(reparameterize(mu, logvar, gen)))
                         for _ in range(samples)], 1).double()
    recon_prob = -(torch.logsumexp(log_p, 1) - math.log(samples))
    return {"elbo": nll + gaussian_kl(mu, logvar), "recon-prob": recon_prob.float(),
            "unregularized": nll}


def train(method, images, seed, epochs, batch_size=64, lr=1e-3):
    torch.manual_seed(seed)
    net = make_network(method, images.shape[1], images.shape[2])
    opt = torch.optim.Adam(net.parameters(), lr=lr, amsgrad=False)
    order = torch.Generator().manual_seed(seed)
    net.train()
    for epoch in range(epochs):
        perm = torch.randperm(len(images), generator=order)
        total = 0.0
        for start in range(0, len(images), batch_size):  # the last partial batch too
            x = images[perm[start:start + batch_size]]
            loss = batch_loss(method, net, x)
            if not torch.isfinite(loss):
                raise RuntimeError("%s: loss %s at epoch %d" % (method, loss.item(), epoch))
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(x)
        last_loss = total / len(images)
    return net, last_loss


@torch.no_grad()
def score(method, net, images, seed, chunk=256):
    net.eval()
    gen = torch.Generator().manual_seed(seed)
    parts = [batch_scores(method, net, images[i:i + chunk], gen)
             for i in range(0, len(images), chunk)]
    return {k: torch.cat([p[k] for p in parts]).numpy() for k in SCORES[method]}


# --- driver --------------------------------------------------------------------------------

def driver_arguments(description, methods, threads):
    """The arguments every twin script's driver takes (its own are added by the caller)."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--dataset", choices=sorted(CLASSES), default="fashion-mnist")
    p.add_argument("--methods", default=methods)
    p.add_argument("--trials", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fmnist-dir", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--cifar-dir", default=os.path.join(REPO, "..", "shared", "data", "cifar10"))
    p.add_argument("--threads", type=int, default=threads)
    p.add_argument("--json", help="write the results here")
    return p


def driver_setup(p, a, known):
    """Checks --methods against `known`, sets the thread count and loads the data set:
    returns (methods, data, normal class, anomaly class)."""
    methods = a.methods.split(",")
    for m in methods:
        if m not in known:
            p.error("unknown method %r (%s)" % (m, ", ".join(known)))
    torch.set_num_threads(a.threads)
    data = (load_fashion_mnist(a.fmnist_dir) if a.dataset == "fashion-mnist"
            else load_cifar10(a.cifar_dir))
    normal, anomaly = CLASSES[a.dataset]
    return methods, data, normal, anomaly


def main():
    p = driver_arguments(__doc__.split("\n\n")[0], "ae,vae,ssim-ae", 2)
    p.add_argument("--epochs", type=int, default=30)
    a = p.parse_args()
    methods, data, normal, anomaly = driver_setup(p, a, SCORES)

    rows, timings = [], []
    for t in range(a.trials):
        seed = a.seed + t
        train_x, test_x, labels = benchmark_split(data, normal, anomaly, seed)
        for m in methods:
            start = time.time()
            net, loss = train(m, train_x, seed, a.epochs)
            seconds = time.time() - start
            scores = score(m, net, test_x, seed)
            timings.append({"method": m, "trial": t, "train_seconds": round(seconds, 2),
                            "seconds_per_epoch": round(seconds / max(a.epochs, 1), 3),
                            "final_loss": loss})
            for name, s in scores.items():
                auc = float(roc_auc_score(labels, s))
                rows.append({"dataset": a.dataset, "method": m, "score": name, "trial": t,
                             "seed": seed, "auc": auc})
                print("trial %d  %-8s %-14s AUC %.4f   (train %.1f s, %.2f s/epoch, loss %.4g)"
                      % (t, m, name, auc, seconds, seconds / max(a.epochs, 1), loss), flush=True)

    print("\n%-8s %-14s %s  median    min    max" % ("method", "score", " ".join(
        "trial%-2d" % t for t in range(a.trials))))
    for m in methods:
        for name in SCORES[m]:
            aucs = [r["auc"] for r in rows if r["method"] == m and r["score"] == name]
            print("%-8s %-14s %s  %.4f %.4f %.4f" % (m, name, " ".join(
                "%.4f " % v for v in aucs), statistics.median(aucs), min(aucs), max(aucs)))

    if a.json:
        settings = {"dataset": a.dataset, "normal_class": normal, "anomaly_class": anomaly,
                    "n_normal_train": 1000, "n_test_each": 1000, "methods": methods,
                    "trials": a.trials, "seed": a.seed, "epochs": a.epochs, "batch_size": 64,
                    "optimizer": "adam", "amsgrad": False, "lr": 1e-3, "latent_dim": 128,
                    "vae_samples": 10, "threads": a.threads, "torch": torch.__version__}
        with open(a.json, "w") as f:
            json.dump({"settings": settings, "results": rows, "timings": timings}, f, indent=1)


if __name__ == "__main__":
    main()
