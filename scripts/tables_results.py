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
trial by trial. Writes docs/figures/tables-results.md (spliced into docs/results.md by
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
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import LocalOutlierFactor
from sklearn.preprocessing import MinMaxScaler, StandardScaler

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = "/usr/lib/python3/dist-packages/sklearn/datasets/data"
DEEP = "l2softmax,arcface,doc,frozen"
# name -> (file, kizuki's table arguments, label column, normal, anomaly, methods)
TABLES = {
    "breast_cancer": ("breast_cancer.csv", "--skip-rows 1 --no-header --label 30 --normal 1 --anomaly 0",
                      30, ["1"], ["0"], "iforest,identity,frozen"),
    "wine": ("wine_data.csv", "--skip-rows 1 --no-header --label 13 --normal 0 --anomaly 1 --reference 2",
             13, ["0"], ["1"], "iforest,identity," + DEEP),
    "digits": ("digits.csv.gz", "--no-header --label 64 --normal 7 --anomaly 9 --reference 0 1 2 3 4 5 6 8",
               64, ["7"], ["9"], "iforest,identity," + DEEP),
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


def summary(v):
    return "%.4f ± %.4f" % (statistics.mean(v), statistics.stdev(v)) if len(v) > 1 else "%.4f" % v[0]


def main():
    kizuki, trials = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 10
    lines = ["| table | method | scorer | kizuki AUC (mean ± sd) | min | max | scikit-learn AUC (mean ± sd) |",
             "|---|---|---|---|---|---|---|"]
    for name, (file, args, label, normal, anomaly, methods) in TABLES.items():
        out = os.path.join(ROOT, "results", "tables-" + name)
        cmd = [kizuki, "benchmark", "--table", os.path.join(DATA, file), *args.split(),
               "--methods", methods, "--scorers", "lof,cosine", "--trials", str(trials),
               "--out", out]
        print(" ".join(cmd), flush=True)
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env={**os.environ, "OMP_NUM_THREADS": "1"})
        with open(os.path.join(out, "results.json")) as f:
            results = json.load(f)
        runs = {}
        for r in results["trials"]:
            runs.setdefault((r["method"], r["scorer"]), []).append(r["auc"])
        x, y = read_table(file, label)
        sk = sklearn_trials(x, y, normal, anomaly, trials)
        for (method, scorer), aucs in runs.items():
            ref = sk["iforest"] if method == "iforest" else sk["lof"] if (method, scorer) == ("identity", "lof") else None
            lines.append("| %s | %s | %s | %s | %.4f | %.4f | %s |" % (
                name, method, scorer, summary(aucs), min(aucs), max(aucs),
                summary(ref) if ref else ""))
    lines.append("")
    lines.append("scikit-learn %s, %d trials per table; kizuki's settings in results/tables-NAME/results.json." %
                 (sklearn.__version__, trials))
    figures = os.path.join(ROOT, "docs", "figures")
    with open(os.path.join(figures, "tables-results.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    subprocess.run(["bash", os.path.join(ROOT, "scripts", "splice.sh"),
                    os.path.join(ROOT, "docs", "results.md"), figures], check=True)
    print("\n".join(lines))


main()
