#!/usr/bin/env python3
"""make_corpus.py — writes the committed seed corpora of the fuzz targets, fuzz/corpus/<target>/,
from small valid files: the test fixtures, hand-made IDX / CIFAR records, a tiny training
checkpoint and a tiny model.kz (made by the kizuki program given as the first argument).

    /usr/bin/python3 fuzz/make_corpus.py build/apps/kizuki
"""
import gzip, json, os, shutil, struct, subprocess, sys, tempfile

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
fixtures = os.path.join(root, "tests", "fixtures")
corpus = os.path.join(root, "fuzz", "corpus")


def out(target, name, data):
    d = os.path.join(corpus, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def fixture(name):
    with open(os.path.join(fixtures, name), "rb") as f:
        return f.read()


def safetensors(tensors, metadata):
    """tensors: name -> (shape, list of floats); F32 little-endian."""
    header, data = {"__metadata__": metadata}, b""
    for name, (shape, values) in tensors.items():
        raw = struct.pack("<%df" % len(values), *values)
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    h = json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(h)) + h + data


for n in ["io_mixed.safetensors", "data_images.safetensors", "data_fmnist.safetensors"]:
    out("safetensors", n, fixture(n))
for n in sorted(os.listdir(fixtures)):
    if n.endswith(".npy"):
        out("npy", n, fixture(n))

# IDX: 2 images of 2x3 and their 2 labels, plain and gzipped (the first byte of the
# fuzz_idx input also picks the split point of the image/label pair).
images = b"\0\0\x08\x03\0\0\0\x02\0\0\0\x02\0\0\0\x03abcdefghijkl"
labels = b"\0\0\x08\x01\0\0\0\x02\x01\x07"
out("idx", "images", images)
out("idx", "labels", labels)
out("idx", "images.gz", gzip.compress(images, mtime=0))
out("idx", "pair", bytes([len(images) * 255 // (len(images) + len(labels))]) + images + labels)

# CIFAR-10: two records (label byte + 3072 pixel bytes), a made-up pattern.
out("cifar", "two_records", b"".join(bytes([c]) + bytes((i * 7 + c) % 256 for i in range(3072)) for c in (3, 9)))

# Images: the first byte picks the channel request (3 = RGB).
for n in sorted(os.listdir(fixtures)):
    if n.startswith("data_img_"):
        out("image", n, b"\x03" + fixture(n))

# CSV: the first byte picks the options (fuzz/fuzz_csv.cpp): 0 = header, label "y";
# 1 = no header, label column "0"; 2 = skip one line; 8 = drop "id"; 16 = a 4 KiB limit.
out("csv", "header", b"\x00" + b"a,b,y\n1.5,-2,cat\n3,1e-3,dog\n")
out("csv", "quoted_crlf", b"\x00" + b'"a","y"\r\n"1.5",x\r\n2,"two\r\nlines"\r\n3,"say ""hi"""')
out("csv", "no_header", b"\x01" + b"1,0.5,2\n0,1.5,3\n")
out("csv", "sklearn_layout", b"\x03" + b"2,2,bad,good\n0,0.5,2\n1,1.5,3\n")
out("csv", "drop_limit", b"\x18" + b"id,a,y\n" + b"".join(b"%d,%d.25,k%d\n" % (i, i, i % 3) for i in range(40)))

# A training checkpoint with tiny stand-in tensors (parse_checkpoint checks the container,
# the metadata and the data order; shapes are checked only when a run resumes from it).
out("model", "checkpoint.ckpt", safetensors(
    {"backbone.features.0.0.weight": ([2], [0.5, -0.5]), "head.weight": ([1, 2], [1.0, 2.0]),
     "optimizer.step": ([3], [4.0, 0.0, 0.0]), "data.order": ([4], [2.0, 0.0, 3.0, 1.0])},
    {"format": "kizuki-checkpoint", "format_version": "1", "epochs_done": "2",
     "train_seconds": "1.5", "loader_seeds": json.dumps(["123", "18446744073709551615"]),
     "fingerprint": json.dumps({"method": {"name": "arcface", "lr": 0.001}, "seed": "0"})}))

# model.kz: the smallest real detector (frozen backbone, width 0.1, 8x8 inputs, k-NN scorer
# fitted on 3 images), ~0.4 MB: the backbone always ends in 1280 channels.
if len(sys.argv) > 1:
    with tempfile.TemporaryDirectory() as tmp:
        imgs = os.path.join(tmp, "normal")
        os.makedirs(imgs)
        for n in os.listdir(fixtures):
            if n.startswith("data_img_"):
                shutil.copy(os.path.join(fixtures, n), imgs)
        model = os.path.join(tmp, "model.kz")
        subprocess.run([sys.argv[1], "train", "--normal", imgs, "--method", "frozen", "--width", "0.1",
                        "--image-size", "8", "--scorer", "knn", "--out", model], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(model, "rb") as f:
            out("model", "frozen_knn.kz", f.read())
