#!/usr/bin/env python3
"""tables_results.py — the tables section of docs/results.md: kizuki's benchmark on the CSV
tables that Debian's python3-sklearn installs, beside scikit-learn's own Isolation Forest and
LOF on the same protocol.

    /usr/bin/python3 scripts/tables_results.py build/apps/kizuki [TRIALS]

For each table below: `kizuki benchmark --table ...` (TRIALS trials, default 10) into
results/tables-NAME/, then scikit-learn 1.2 on TRIALS splits of its own drawn by the same
rules (data/table_split.h: half the normal rows, rounded down, train; the other normal rows
and every anomalous row are the test set; features standardised with the normal training
rows' statistics): IsolationForest(100 trees, max_samples min(256, N), random_state = trial) scored
by -score_samples, and LocalOutlierFactor(n_neighbors=5, novelty=True) on the standardised
rows MinMax-scaled by the normal training rows (kizuki's `identity` + `lof`). The splits are
not kizuki's (different random numbers), so the two columns agree in distribution, not
trial by trial. goad's reference is its PyTorch twin (goad_torch_trials below: the authors'
tabular GOAD — github.com/lironber/GOAD train_ad_tabular.py, opt_tc_tabular.py — with
kizuki's network and settings, on the same kind of splits). Ensembles (--ensemble) average
their members' scores standardised on the normal training rows (anomaly/ensemble.h); they
have no reference column. ae's reference is its PyTorch twin (ae_torch below: kizuki's MLP
autoencoder, PyTorch's default initialisation, Adam(amsgrad) lr 1e-3, batches of 64, 50
epochs, score the squared error summed over a row's features). deepsad runs twice: with no
labels (Deep SVDD), and with 5 known anomalies (--known-anomalies 5) in a second run
results/tables-NAME-known5/ whose split leaves 5 anomalous rows out of the test set
(--test-anomaly = the anomalous rows less 5: its test set is the first run's less those 5
rows, the normal rows the same), so the 5 labelled rows are those. Writes docs/figures/tables-results.md (spliced into docs/results.md by
scripts/splice.sh, which this script runs). The files are read where the package put them
and never copied.
"""
import gzip
import json
import os
import statistics
import subprocess
import sys

import numpy as np
import sklearn
import torch
import torch.nn.functional as F
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import LocalOutlierFactor
from sklearn.preprocessing import MinMaxScaler, StandardScaler

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = "/usr/lib/python3/dist-packages/sklearn/datasets/data"
DEEP = "l2softmax,arcface,doc,frozen,goad,deepsad,ae"
KNOWN = 5  # deepsad's labelled anomalies in the second run of each table
# Ensembles: the classical pair, the deep models (the seed's "ensemble of deep models"), and
# deep and classical together.
CLASSICAL = ["--ensemble", "iforest+lof=iforest,identity:lof"]
MIXED = ["--ensemble", "goad+iforest+lof=goad,iforest,identity:lof"]
# ae with the classical pair, and the two new deep scoring methods with GOAD.
NEW = ["--ensemble", "ae+iforest+lof=ae,iforest,identity:lof", "--ensemble", "ae+deepsad+goad=ae,deepsad,goad"]
ENSEMBLES = CLASSICAL + MIXED + NEW + [
    "--ensemble", "l2softmax+arcface+goad=l2softmax:cosine,arcface:cosine,goad",
    "--ensemble", "l2softmax+goad+iforest=l2softmax:cosine,goad,iforest"]
# name -> (file, kizuki's table arguments, label column, normal, anomaly, methods, ensembles)
TABLES = {
    "breast_cancer": ("breast_cancer.csv", "--skip-rows 1 --no-header --label 30 --normal 1 --anomaly 0",
                      30, ["1"], ["0"], "iforest,identity,frozen,goad,deepsad,ae", CLASSICAL + MIXED + NEW),
    "wine": ("wine_data.csv", "--skip-rows 1 --no-header --label 13 --normal 0 --anomaly 1 --reference 2",
             13, ["0"], ["1"], "iforest,identity," + DEEP, ENSEMBLES),
    "digits": ("digits.csv.gz", "--no-header --label 64 --normal 7 --anomaly 9 --reference 0 1 2 3 4 5 6 8",
               64, ["7"], ["9"], "iforest,identity," + DEEP, ENSEMBLES),
}


def read_table(file, label):
    path = os.path.join(DATA, file)
    opener = gzip.open if file.endswith(".gz") else open
    with opener(path, "rt") as f:
        lines = f.read().splitlines()
    if not file.endswith(".gz"):
        lines = lines[1:]  # "n_samples,n_features,class names..."
    rows = np.array([[float(v) for v in l.split(",")] for l in lines if l])
    y = np.array([str(int(v)) for v in rows[:, label]])
    return np.delete(rows, label, axis=1).astype(np.float32), y


def sklearn_trials(x, y, normal, anomaly, trials):
    out = {"iforest": [], "lof": []}
    normals = np.flatnonzero(np.isin(y, normal))
    anomalous = np.flatnonzero(np.isin(y, anomaly))
    for t in range(trials):
        perm = np.random.default_rng(t).permutation(normals)
        train, test_n = perm[: len(perm) // 2], perm[len(perm) // 2:]
        test = np.concatenate([test_n, anomalous])
        labels = np.concatenate([np.zeros(len(test_n)), np.ones(len(anomalous))])
        scaler = StandardScaler().fit(x[train])
        xtr, xte = scaler.transform(x[train]), scaler.transform(x[test])
        forest = IsolationForest(n_estimators=100, max_samples=min(256, len(train)),
                                 random_state=t).fit(xtr)
        out["iforest"].append(roc_auc_score(labels, -forest.score_samples(xte)))
        mm = MinMaxScaler().fit(xtr)
        lof = LocalOutlierFactor(n_neighbors=5, novelty=True).fit(mm.transform(xtr))
        out["lof"].append(roc_auc_score(labels, -lof.score_samples(mm.transform(xte))))
    return out


def sq_dists(zs, centres):  # zs (B, M, F), centres (M, F) -> (B, M, M) squared distances
    # The authors' ((zs.unsqueeze(2) - means.unsqueeze(1)) ** 2).sum(-1) without its
    # (B, M, M, F) temporary (1 GiB at M = 256, F = 64, B = 64).
    d = (zs ** 2).sum(-1).unsqueeze(2) + (centres ** 2).sum(-1).view(1, 1, -1) - 2 * zs @ centres.t()
    return d.clamp(min=0)


def tc_loss(zs, m=1.0):  # zs (B, M, F): GOAD's triplet-centre loss as the authors wrote it
    res = sq_dists(zs, zs.mean(0))
    pos = torch.diagonal(res, dim1=1, dim2=2)
    offset = torch.diagflat(torch.ones(zs.size(1))).unsqueeze(0) * 1e6
    neg = (res + offset).min(-1)[0]
    return torch.clamp(pos + m - neg, min=0).mean()


def goad_torch(xtr, xte, seed, n_maps=256, d_out=32, widths=(8, 8, 8, 8, 8), epochs=50, batch=64,
               lr=1e-3, lmbda=0.1):
    """kizuki's goad on a table (anomaly/methods/goad.cpp) in PyTorch: the authors' maps
    (randn(M, D, d), x.dot(rot)), network (netC5: bias-free Linear for their kernel-1 Conv1d,
    LeakyReLU(0.2) between, Xavier-normal init with gain sqrt(2); head LeakyReLU - Linear),
    loss (CE + 0.1 tc_loss, margin 1) and score, with kizuki's settings: Adam(amsgrad) lr
    1e-3, batches of 64 rows (all M copies each), 50 epochs, the centres the mean of the
    normal training features after training. Returns the test rows' scores (higher = more
    anomalous)."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    rots = torch.from_numpy(rng.standard_normal((n_maps, xtr.shape[1], d_out)).astype(np.float32))

    def copies(x):  # (n, D) -> (n*M, d), row i's copy m at i*M + m
        return torch.einsum("nd,mde->nme", x, rots).reshape(-1, d_out)

    layers, width = [], d_out
    for w in widths:
        if layers:
            layers.append(torch.nn.LeakyReLU(0.2))
        layers.append(torch.nn.Linear(width, w, bias=False))
        torch.nn.init.xavier_normal_(layers[-1].weight, gain=np.sqrt(2.0))
        width = w
    net = torch.nn.Sequential(*layers)
    head = torch.nn.Sequential(torch.nn.LeakyReLU(0.2), torch.nn.Linear(width, n_maps))
    opt = torch.optim.Adam(list(net.parameters()) + list(head.parameters()), lr=lr, amsgrad=True)
    x = torch.from_numpy(xtr.astype(np.float32))
    for _ in range(epochs):
        net.train()
        perm = torch.from_numpy(rng.permutation(len(x)))
        for i in range(0, len(x), batch):
            idx = perm[i:i + batch]
            f = net(copies(x[idx]))
            labels = torch.arange(n_maps).repeat(len(idx))
            loss = F.cross_entropy(head(f), labels) + lmbda * tc_loss(f.reshape(len(idx), n_maps, -1))
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.eval()
    with torch.no_grad():
        centres = net(copies(x)).reshape(len(x), n_maps, -1).mean(0)
        z = net(copies(torch.from_numpy(xte.astype(np.float32)))).reshape(len(xte), n_maps, -1)
        logp = torch.log_softmax(-sq_dists(z, centres), dim=2)  # (n, M, M)
        return (-torch.diagonal(logp, 0, 1, 2).sum(1)).numpy()


class MlpAutoencoder(torch.nn.Module):
    """layers/mlp_autoencoder.h: Linear-BatchNorm1d-ReLU stages down to a linear bottleneck,
    the mirrored stages back, a last Linear to F with no activation (the same names and
    PyTorch's default initialisation, as tests/fixtures/make_mlp_autoencoder.py)."""

    def __init__(self, in_features, widths):
        super().__init__()

        def stage(i, o):
            return torch.nn.Sequential(torch.nn.Linear(i, o), torch.nn.BatchNorm1d(o), torch.nn.ReLU())
        enc, prev = [], in_features
        for w in widths[:-1]:
            enc.append(stage(prev, w))
            prev = w
        enc.append(torch.nn.Linear(prev, widths[-1]))
        dec, prev = [], widths[-1]
        for w in reversed(widths[:-1]):
            dec.append(stage(prev, w))
            prev = w
        dec.append(torch.nn.Linear(prev, in_features))
        self.encoder = torch.nn.Sequential(*enc)
        self.decoder = torch.nn.Sequential(*dec)

    def forward(self, x):
        return self.decoder(self.encoder(x))


def ae_torch(xtr, xte, seed, widths=(32, 16, 8), epochs=50, batch=64, lr=1e-3):
    """kizuki's ae on a table (anomaly/methods/ae.cpp) in PyTorch: the MLP autoencoder trained
    on the normal training rows with the mean squared error, Adam(amsgrad) lr 1e-3, batches of
    64 rows reshuffled every epoch (a last batch of one row left out, as kizuki does: batch norm
    cannot train on it), 50 epochs; score sum over features of (x - x_hat)^2 in eval mode."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    x = torch.from_numpy(xtr.astype(np.float32))
    net = MlpAutoencoder(x.shape[1], list(widths))
    opt = torch.optim.Adam(net.parameters(), lr=lr, amsgrad=True)
    for _ in range(epochs):
        net.train()
        perm = torch.from_numpy(rng.permutation(len(x)))
        for i in range(0, len(x), batch):
            idx = perm[i:i + batch]
            if len(idx) < 2:
                continue
            loss = F.mse_loss(net(x[idx]), x[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.eval()
    with torch.no_grad():
        xt = torch.from_numpy(xte.astype(np.float32))
        return ((xt - net(xt)) ** 2).sum(1).numpy()


def twin_trials(x, y, normal, anomaly, trials, twin):

    out = []
    normals = np.flatnonzero(np.isin(y, normal))
    anomalous = np.flatnonzero(np.isin(y, anomaly))
    torch.set_num_threads(1)
    for t in range(trials):
        perm = np.random.default_rng(t).permutation(normals)
        train, test_n = perm[: len(perm) // 2], perm[len(perm) // 2:]
        test = np.concatenate([test_n, anomalous])
        labels = np.concatenate([np.zeros(len(test_n)), np.ones(len(anomalous))])
        scaler = StandardScaler().fit(x[train])
        out.append(roc_auc_score(labels, twin(scaler.transform(x[train]),
                                              scaler.transform(x[test]), t)))
    return out


def summary(v):
    return "%.4f ± %.4f" % (statistics.mean(v), statistics.stdev(v)) if len(v) > 1 else "%.4f" % v[0]


def main():
    kizuki, trials = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 10
    lines = ["| table | method | scorer | kizuki AUC (mean ± sd) | min | max | scikit-learn / PyTorch twin AUC (mean ± sd) |",
             "|---|---|---|---|---|---|---|"]
    for name, (file, args, label, normal, anomaly, methods, ensembles) in TABLES.items():
        out = os.path.join(ROOT, "results", "tables-" + name)
        cmd = [kizuki, "benchmark", "--table", os.path.join(DATA, file), *args.split(),
               "--methods", methods, "--scorers", "lof,cosine", *ensembles,
               "--trials", str(trials), "--out", out]
        x, y = read_table(file, label)
        n_anomalous = int(np.isin(y, anomaly).sum())
        known = [kizuki, "benchmark", "--table", os.path.join(DATA, file), *args.split(),
                 "--methods", "deepsad", "--known-anomalies", str(KNOWN),
                 "--test-anomaly", str(n_anomalous - KNOWN), "--trials", str(trials),
                 "--out", out + "-known%d" % KNOWN]
        runs = {}
        for c, suffix in ((cmd, ""), (known, " (%d known)" % KNOWN)):
            print(" ".join(c), flush=True)
            subprocess.run(c, check=True, stdout=subprocess.DEVNULL, env={**os.environ, "OMP_NUM_THREADS": "1"})
            with open(os.path.join(c[-1], "results.json")) as f:
                results = json.load(f)
            for r in results["trials"]:
                runs.setdefault((r["method"] + suffix, r["scorer"]), []).append(r["auc"])
        sk = sklearn_trials(x, y, normal, anomaly, trials)
        sk["goad"] = twin_trials(x, y, normal, anomaly, trials, goad_torch)
        sk["ae"] = twin_trials(x, y, normal, anomaly, trials, ae_torch)
        # deepsad's row with labels right after its row without
        order = [k for k in runs if not k[0].endswith("known)")]
        order.insert(order.index(("deepsad", "distance")) + 1, ("deepsad" + " (%d known)" % KNOWN, "distance"))
        for method, scorer in order:
            aucs = runs[(method, scorer)]
            ref = sk["iforest"] if method == "iforest" else sk["lof"] if (method, scorer) == ("identity", "lof") \
                else sk.get(method) if method in ("goad", "ae") else None
            lines.append("| %s | %s | %s | %s | %.4f | %.4f | %s |" % (
                name, method, scorer, summary(aucs), min(aucs), max(aucs),
                summary(ref) if ref else ""))
    lines.append("")
    lines.append("scikit-learn %s, PyTorch %s (goad's and ae's twins), %d trials per table; kizuki's settings in "
                 "results/tables-NAME/results.json." % (sklearn.__version__, torch.__version__, trials))
    figures = os.path.join(ROOT, "docs", "figures")
    with open(os.path.join(figures, "tables-results.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    subprocess.run(["bash", os.path.join(ROOT, "scripts", "splice.sh"),
                    os.path.join(ROOT, "docs", "results.md"), figures], check=True)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
