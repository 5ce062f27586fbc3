"""generative_torch.py — the PyTorch twin of kizuki's adversarial detectors (adae, anogan):
the same networks, initialisation, optimisers, losses and scores, run on the
benchmark protocol of scripts/reconstruction_torch.py, so a surprising kizuki AUC can be told
apart from a bug.

How it mirrors kizuki (file references are to this repository):
- adae (anomaly/methods/adae.cpp, losses/gan.h): G and D are the convolutional autoencoder of
  layers/conv_autoencoder.h (reconstruction_torch.py's ConvEncoder/ConvDecoder, stages
  32/64/128, latent 128, sigmoid output), PyTorch's default initialisation, G built first.
  Every batch: D's step on L_D = l1(D(x), x) - l1(D(G(x)), G(x)) with G fixed, then G's step
  on L_G = l1(G(x), x) + l1(D(G(x)), G(x)) with D fixed; one Adam per network, lr 1e-3,
  not AMSGrad, batch 64, 3 epochs in the quick preset (anomaly/experiment.cpp
  reconstruction_preset). Scores in eval mode: g-dg = per-image sum of (G(x) - D(G(x)))^2,
  x-dg = per-image sum of (x - D(G(x)))^2.
- anogan (anomaly/methods/anogan.cpp, layers/dcgan.h): the DCGAN (width 64, latent 100),
  pixels in [-1, 1], non-saturating GAN loss (BCE with logits): every batch D's step on
  BCE(D(x), 1) + BCE(D(G(z)), 0), then G's on BCE(D(G(z)), 1) with the same G(z); Adam
  lr 2e-4, betas (0.5, 0.999), batch 64, 3 epochs in the quick preset. Scoring: z ~ N(0, I)
  per chunk of 64 test images, --anogan-steps Adam steps (lr 0.05) on the sum of
  (1 - 0.1) sum|x - G(z)| + 0.1 sum|f(x) - f(G(z))|, f = D's last feature map, G and D in
  eval mode; the score is that loss at the end.
- Protocol: reconstruction_torch.py's benchmark_split (1000 normal training images, 1000 +
  1000 test images; Fashion-MNIST 7 vs 9); trial t uses seed S + t. AUC by sklearn.

Run from the repository root:
  /usr/bin/python3 scripts/generative_torch.py --methods adae --epochs 3 --trials 2 --threads 1
  /usr/bin/python3 scripts/generative_torch.py --methods anogan --epochs 3 --anogan-steps 50
"""
import json
import os
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reconstruction_torch import (ConvDecoder, ConvEncoder, benchmark_split,  # noqa: E402
                                  default_widths, driver_arguments, driver_setup)

SCORES = {"adae": ["g-dg", "x-dg"], "anogan": ["anogan"]}


class ConvAutoencoder(nn.Module):
    """layers/conv_autoencoder.h with explicit stage widths (the fixtures use tiny ones)."""

    def __init__(self, channels, size, latent=128, widths=None):
        super().__init__()
        w = widths or default_widths(size)
        self.encoder = ConvEncoder(channels, size, latent, w)
        self.decoder = ConvDecoder(latent, size, channels, w)

    def forward(self, x):
        return torch.sigmoid(self.decoder(self.encoder(x)))


def dcgan_sizes(size):
    s = [size]
    for _ in range(3):
        s.insert(0, s[0] // 2)
    return s


class DcganGenerator(nn.Module):
    """layers/dcgan.h: z (N,d) -> tanh images (N,C,H,H)."""

    def __init__(self, channels, size, latent=100, width=64):
        super().__init__()
        s, w = dcgan_sizes(size), width
        self.latent = latent
        widths = [4 * w, 2 * w, w, channels]
        layers = [nn.ConvTranspose2d(latent, 4 * w, s[0], 1, 0), nn.BatchNorm2d(4 * w), nn.ReLU()]
        for i in range(1, 4):
            layers.append(nn.ConvTranspose2d(widths[i - 1], widths[i], 4, 2, 1,
                                             output_padding=s[i] - 2 * s[i - 1]))
            if i < 3:
                layers += [nn.BatchNorm2d(widths[i]), nn.ReLU()]
        self.features = nn.Sequential(*layers)

    def forward(self, z):
        return torch.tanh(self.features(z.view(z.shape[0], self.latent, 1, 1)))


class DcganDiscriminator(nn.Module):
    """layers/dcgan.h: images -> (N) logits; features() the last feature map f."""

    def __init__(self, channels, size, width=64):
        super().__init__()
        s, w = dcgan_sizes(size), width
        self.features = nn.Sequential(
            nn.Conv2d(channels, w, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(w, 2 * w, 4, 2, 1), nn.BatchNorm2d(2 * w), nn.LeakyReLU(0.2),
            nn.Conv2d(2 * w, 4 * w, 4, 2, 1), nn.BatchNorm2d(4 * w), nn.LeakyReLU(0.2))
        self.classifier = nn.Conv2d(4 * w, 1, s[0])

    def forward(self, x):
        return self.classifier(self.features(x)).view(x.shape[0])


def anogan_search_loss(x, gz, fx, fgz, lam):  # (N), losses/gan.h
    return ((1 - lam) * (x - gz).abs().flatten(1).sum(1)
            + lam * (fx - fgz).abs().flatten(1).sum(1))


# --- adae ----------------------------------------------------------------------------------

def train_adae(images, seed, epochs, batch_size=64, lr=1e-3, latent=128):
    torch.manual_seed(seed)
    c, s = images.shape[1], images.shape[2]
    g = ConvAutoencoder(c, s, latent)
    d = ConvAutoencoder(c, s, latent)
    opt_g = torch.optim.Adam(g.parameters(), lr=lr)
    opt_d = torch.optim.Adam(d.parameters(), lr=lr)
    order = torch.Generator().manual_seed(seed)
    g.train()
    d.train()
    for epoch in range(epochs):
        perm = torch.randperm(len(images), generator=order)
        total = 0.0
        for start in range(0, len(images), batch_size):
            x = images[perm[start:start + batch_size]]
            with torch.no_grad():
                gx = g(x)
            loss_d = F.l1_loss(d(x), x) - F.l1_loss(d(gx), gx)
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
            for p in d.parameters():
                p.requires_grad_(False)
            gx = g(x)
            loss_g = F.l1_loss(gx, x) + F.l1_loss(d(gx), gx)
            opt_g.zero_grad()
            loss_g.backward()
            opt_g.step()
            for p in d.parameters():
                p.requires_grad_(True)
            if not (torch.isfinite(loss_d) and torch.isfinite(loss_g)):
                raise RuntimeError("adae: loss not finite at epoch %d" % epoch)
            total += (loss_g.item() + loss_d.item()) * len(x)
        last_loss = total / len(images)
    return (g, d), last_loss


@torch.no_grad()
def score_adae(nets, images, chunk=256):
    g, d = nets
    g.eval()
    d.eval()
    out = {"g-dg": [], "x-dg": []}
    for i in range(0, len(images), chunk):
        x = images[i:i + chunk]
        gx = g(x)
        dgx = d(gx)
        out["g-dg"].append(((gx - dgx) ** 2).sum((1, 2, 3)))
        out["x-dg"].append(((x - dgx) ** 2).sum((1, 2, 3)))
    return {k: torch.cat(v).numpy() for k, v in out.items()}


# --- anogan --------------------------------------------------------------------------------

def train_anogan(images, seed, epochs, batch_size=64, lr=2e-4, latent=100):
    """anomaly/methods/anogan.cpp: non-saturating GAN, D's step then G's on the same G(z)."""
    torch.manual_seed(seed)
    c, s = images.shape[1], images.shape[2]
    g = DcganGenerator(c, s, latent)
    d = DcganDiscriminator(c, s)
    opt_g = torch.optim.Adam(g.parameters(), lr=lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=lr, betas=(0.5, 0.999))
    bce = F.binary_cross_entropy_with_logits
    order = torch.Generator().manual_seed(seed)
    g.train()
    d.train()
    x_all = images * 2 - 1  # [0, 1] -> [-1, 1], kizuki's "symmetric" scaling
    for epoch in range(epochs):
        perm = torch.randperm(len(images), generator=order)
        total_d = total_g = 0.0
        for start in range(0, len(images), batch_size):
            x = x_all[perm[start:start + batch_size]]
            n = len(x)
            fake = g(torch.randn(n, latent))
            loss_d = bce(d(x), torch.ones(n)) + bce(d(fake.detach()), torch.zeros(n))
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
            for p in d.parameters():
                p.requires_grad_(False)
            loss_g = bce(d(fake), torch.ones(n))
            opt_g.zero_grad()
            loss_g.backward()
            opt_g.step()
            for p in d.parameters():
                p.requires_grad_(True)
            if not (torch.isfinite(loss_d) and torch.isfinite(loss_g)):
                raise RuntimeError("anogan: loss not finite at epoch %d" % epoch)
            total_d += loss_d.item() * n
            total_g += loss_g.item() * n
        print("  anogan epoch %d: D loss %.4f, G loss %.4f" % (
            epoch + 1, total_d / len(images), total_g / len(images)), flush=True)
    return (g, d), (total_d + total_g) / len(images)


def score_anogan(nets, images, steps=500, lam=0.1, lr=0.05, chunk=64):
    """The latent search: Adam on z, G and D in eval mode; the final loss and |x - G(z)|."""
    g, d = nets
    g.eval()
    d.eval()
    for p in list(g.parameters()) + list(d.parameters()):
        p.requires_grad_(False)
    out = []
    for i in range(0, len(images), chunk):
        x = images[i:i + chunk] * 2 - 1
        z = torch.randn(len(x), g.latent, generator=torch.Generator().manual_seed(i))
        z.requires_grad_(True)
        opt = torch.optim.Adam([z], lr=lr)
        with torch.no_grad():
            fx = d.features(x)
        for _ in range(steps):
            gz = g(z)
            loss = anogan_search_loss(x, gz, fx, d.features(gz), lam).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            gz = g(z)
            out.append(anogan_search_loss(x, gz, fx, d.features(gz), lam))
    return {"anogan": torch.cat(out).numpy()}


TRAIN = {"adae": train_adae, "anogan": train_anogan}
SCORE = {"adae": score_adae, "anogan": score_anogan}


def main():
    p = driver_arguments(__doc__.split("\n\n")[0], "adae", 1)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--anogan-steps", type=int, default=500)
    a = p.parse_args()
    methods, data, normal, anomaly = driver_setup(p, a, SCORES)
    rows = []
    for t in range(a.trials):
        seed = a.seed + t
        train_x, test_x, labels = benchmark_split(data, normal, anomaly, seed)
        for m in methods:
            start = time.time()
            nets, loss = TRAIN[m](train_x, seed, a.epochs)
            seconds = time.time() - start
            scored = (SCORE[m](nets, test_x, steps=a.anogan_steps) if m == "anogan"
                      else SCORE[m](nets, test_x))
            score_seconds = time.time() - start - seconds
            for name, s in scored.items():
                auc = float(roc_auc_score(labels, s))
                rows.append({"dataset": a.dataset, "method": m, "score": name, "trial": t,
                             "seed": seed, "auc": auc, "train_seconds": round(seconds, 2),
                             "score_seconds": round(score_seconds, 2), "final_loss": loss})
                print("trial %d  %-6s %-6s AUC %.4f   (train %.1f s, score %.1f s, loss %.4g)"
                      % (t, m, name, auc, seconds, score_seconds, loss), flush=True)
    for m in methods:
        for name in SCORES[m]:
            aucs = [r["auc"] for r in rows if r["method"] == m and r["score"] == name]
            print("%-6s %-6s median %.4f (min %.4f, max %.4f)" % (
                m, name, statistics.median(aucs), min(aucs), max(aucs)))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"settings": vars(a), "torch": torch.__version__, "results": rows}, f,
                      indent=1)


if __name__ == "__main__":
    main()
