"""Builds a dataset cache: the ``prepare`` job.

Layout written under ``out`` (the coordinator moves it into place only when
the job succeeded, so a half-written cache is never used):

    public/meta.json    name, classes, shape, sizes, mean/std per channel
    public/train_x.npy  uint8 (N, C, H, W)
    public/train_y.npy  uint8 or int64 (N,)
    public/test_x.npy   uint8 (M, C, H, W)           -- no labels here
    private/test_y.npy  uint8 or int64 (M,)          -- never enters a sandbox

Only ``public`` is bound (read-only) into training sandboxes.

The test split is drawn with ``test_secret``, a random value the coordinator
passes on stdin and keeps nowhere: shapes' test images are generated from
it, and a real dataset's test subset and its order are a permutation drawn
from it. The labels in ``private`` follow that order. Nothing in ``public``
(nor the cache's name) holds the secret, so a model can neither regenerate
the test split nor line up a published label list with the images it gets.
"""

import gzip
import json
import os
import pickle
import struct

import numpy as np

FORMAT = 1

# Where each real dataset's files come from, for error messages.
SOURCES = {
    "cifar-10": ("cifar-10-batches-py/{data_batch_1..5,test_batch}",
                 "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz (extract into the data folder)"),
    "cifar-100": ("cifar-100-python/{train,test}",
                  "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz (extract into the data folder)"),
    "mnist": ("MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] (or mnist/ or the data folder itself)",
              "http://yann.lecun.com/exdb/mnist/ or https://ossci-datasets.s3.amazonaws.com/mnist/"),
    "fashion-mnist": ("FashionMNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] (or fashion-mnist/)",
                      "https://github.com/zalandoresearch/fashion-mnist (data/fashion)"),
    "svhn": ("train_32x32.mat, test_32x32.mat (or svhn/)",
             "http://ufldl.stanford.edu/housenumbers/ (format 2, needs scipy)"),
}


class DataError(Exception):
    pass


def run(spec, ch):
    name = spec["name"]
    out = spec["out"]
    p = spec.get("params") or {}
    secret = _secret_rng(spec.get("test_secret"))
    subset = False
    if name == "shapes":
        tr, te = shapes(p, secret)
    else:
        tr, te = real(name, spec.get("data_dir") or "", bool(spec.get("download")))
        n_tr, n_te = len(tr[1]), len(te[1])
        tr = _subset(tr, p.get("n_train"), np.random.default_rng(int(p.get("seed", 0))), True)
        te = _subset(te, p.get("n_test"), secret, False)
        subset = len(tr[1]) < n_tr or len(te[1]) < n_te
    (xtr, ytr), (xte, yte) = tr, te
    classes = int(p.get("classes") or 0) or int(max(ytr.max(), yte.max()) + 1)
    os.makedirs(os.path.join(out, "public"), exist_ok=True)
    os.makedirs(os.path.join(out, "private"), exist_ok=True)
    ldt = np.uint8 if classes <= 256 else np.int64
    np.save(os.path.join(out, "public", "train_x.npy"), np.ascontiguousarray(xtr, dtype=np.uint8))
    np.save(os.path.join(out, "public", "train_y.npy"), ytr.astype(ldt))
    np.save(os.path.join(out, "public", "test_x.npy"), np.ascontiguousarray(xte, dtype=np.uint8))
    np.save(os.path.join(out, "private", "test_y.npy"), yte.astype(ldt))
    f = xtr.astype(np.float32) / 255.0
    meta = {
        "format": FORMAT,
        "name": name,
        "task": "img-classification",
        "classes": classes,
        "channels": int(xtr.shape[1]),
        "height": int(xtr.shape[2]),
        "width": int(xtr.shape[3]),
        "n_train": int(xtr.shape[0]),
        "n_test": int(xte.shape[0]),
        "mean": [round(float(v), 6) for v in f.mean(axis=(0, 2, 3))],
        "std": [round(float(v), 6) for v in f.std(axis=(0, 2, 3))],
        "subset": subset,
        "seed": int(p.get("seed", 0)),
        "params": p,
    }
    with open(os.path.join(out, "public", "meta.json"), "w") as fh:
        json.dump(meta, fh, indent=1, sort_keys=True)
    ch.emit("done", meta=meta)


def _secret_rng(secret):
    if not secret or len(secret) < 32:
        raise DataError("prepare: the job carries no test secret (coordinator and worker versions differ?)")
    return np.random.default_rng(np.random.SeedSequence(int(secret, 16)))


def _subset(split, n, rng, keep_order):
    """n items (all when n is 0 or too big) drawn with rng; the training
    subset keeps the source's order, the test split is shuffled."""
    x, y = split
    idx = rng.permutation(len(y))
    if n and n < len(y):
        idx = idx[:n]
    elif keep_order:
        return x, y
    if keep_order:
        idx = np.sort(idx)
    return x[idx], y[idx]


# ---------------------------------------------------------------- shapes

SHAPES = ("disk", "square", "triangle", "plus", "ring", "diamond", "cross", "hbar", "vbar", "frame")


def shapes(p, secret):
    """Procedural RGB shapes, deterministic for a given seed.

    Each image holds one shape (the class) of random size, position,
    rotation and colour on a random background with Gaussian noise. Colour
    carries no information and several classes are close cousins
    (disk/ring, square/frame/diamond, plus/cross, hbar/vbar), which keeps
    one epoch of a small CNN well between chance and 100%.
    """
    size = int(p.get("size", 32))
    classes = int(p.get("classes", 10))
    n_train = int(p.get("n_train", 5000))
    n_test = int(p.get("n_test", 1000))
    seed = int(p.get("seed", 0))
    if not 1 < classes <= len(SHAPES):
        raise DataError("shapes: classes=%d, want 2..%d" % (classes, len(SHAPES)))
    if size < 8:
        raise DataError("shapes: size=%d, want at least 8" % size)
    train = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
    return _shapes(train, n_train, size, classes), _shapes(secret, n_test, size, classes)


def _shapes(rng, n, size, classes):
    y = rng.integers(0, classes, size=n)
    x = np.empty((n, 3, size, size), dtype=np.uint8)
    chunk = 512
    grid = np.arange(size, dtype=np.float32) + 0.5
    for s in range(0, n, chunk):
        yy = y[s:s + chunk]
        m = len(yy)
        r = rng.uniform(0.28, 0.45, m).astype(np.float32) * size
        cx = rng.uniform(0, 1, m).astype(np.float32) * (size - 2 * r) + r
        cy = rng.uniform(0, 1, m).astype(np.float32) * (size - 2 * r) + r
        th = rng.uniform(-0.25, 0.25, m).astype(np.float32)
        fg = rng.uniform(0, 255, (m, 3)).astype(np.float32)
        bg = rng.uniform(0, 255, (m, 3)).astype(np.float32)
        # keep some contrast: push the foreground away from the background
        d = fg - bg
        weak = np.abs(d).mean(axis=1) < 80
        fg[weak] = np.where(bg[weak] > 127, bg[weak] - 110, bg[weak] + 110)
        noise = rng.normal(0, 10, (m, 3, size, size)).astype(np.float32)
        dx = grid[None, None, :] - cx[:, None, None]
        dy = grid[None, :, None] - cy[:, None, None]
        c, s_ = np.cos(th)[:, None, None], np.sin(th)[:, None, None]
        u = (c * dx + s_ * dy) / r[:, None, None]
        v = (-s_ * dx + c * dy) / r[:, None, None]
        mask = np.zeros((m, size, size), dtype=bool)
        for k in range(classes):
            sel = yy == k
            if sel.any():
                mask[sel] = _mask(SHAPES[k], u[sel], v[sel])
        img = bg[:, :, None, None] + mask[:, None, :, :] * (fg - bg)[:, :, None, None] + noise
        x[s:s + m] = np.clip(img, 0, 255).astype(np.uint8)
    return x, y.astype(np.int64)


def _mask(kind, u, v):
    au, av = np.abs(u), np.abs(v)
    rr = u * u + v * v
    if kind == "disk":
        return rr <= 1
    if kind == "square":
        return (au <= 0.8) & (av <= 0.8)
    if kind == "triangle":
        return (v <= 0.7) & (v >= -1) & (au <= 0.6 * (v + 1))
    if kind == "plus":
        return ((au <= 0.28) & (av <= 1)) | ((av <= 0.28) & (au <= 1))
    if kind == "ring":
        return (rr <= 1) & (rr >= 0.36)
    if kind == "diamond":
        return au + av <= 1
    if kind == "cross":
        p, q = np.abs(u + v) / 1.4142, np.abs(v - u) / 1.4142
        return ((p <= 0.28) & (q <= 1)) | ((q <= 0.28) & (p <= 1))
    if kind == "frame":
        return (au <= 0.85) & (av <= 0.85) & ((au >= 0.5) | (av >= 0.5))
    if kind == "hbar":
        return (au <= 1) & (av <= 0.3)
    if kind == "vbar":
        return (au <= 0.3) & (av <= 1)
    raise DataError("unknown shape " + kind)


# ---------------------------------------------------------------- real data

def real(name, data_dir, download):
    if name not in SOURCES:
        raise DataError("unknown dataset %r: want shapes, %s" % (name, ", ".join(sorted(SOURCES))))
    if not data_dir:
        raise DataError("dataset %s needs a data folder (--data-dir or NNGPT_DATA) holding %s; get it from %s"
                        % (name, SOURCES[name][0], SOURCES[name][1]))
    if download:
        _download(name, data_dir)
    return {"cifar-10": _cifar10, "cifar-100": _cifar100, "mnist": _mnist,
            "fashion-mnist": _fmnist, "svhn": _svhn}[name](data_dir)


def _missing(name, data_dir, what):
    return DataError("dataset %s: %s not found in %s; expected %s, from %s (or pass --download where the machine is online)"
                     % (name, what, data_dir, SOURCES[name][0], SOURCES[name][1]))


def _download(name, root):
    import torchvision.datasets as D

    if name == "cifar-10":
        D.CIFAR10(root, train=True, download=True)
    elif name == "cifar-100":
        D.CIFAR100(root, train=True, download=True)
    elif name == "mnist":
        D.MNIST(root, train=True, download=True)
        D.MNIST(root, train=False, download=True)
    elif name == "fashion-mnist":
        D.FashionMNIST(root, train=True, download=True)
        D.FashionMNIST(root, train=False, download=True)
    elif name == "svhn":
        D.SVHN(root, split="train", download=True)
        D.SVHN(root, split="test", download=True)


def _unpickle(path):
    with open(path, "rb") as fh:
        return pickle.load(fh, encoding="bytes")


def _cifar(name, data_dir, folder, train_files, test_files, key):
    base = os.path.join(data_dir, folder)
    out = []
    for files in (train_files, test_files):
        xs, ys = [], []
        for f in files:
            path = os.path.join(base, f)
            if not os.path.exists(path):
                raise _missing(name, data_dir, os.path.join(folder, f))
            d = _unpickle(path)
            xs.append(np.asarray(d[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
            ys.append(np.asarray(d[key], dtype=np.int64))
        out.append((np.concatenate(xs), np.concatenate(ys)))
    return out


def _cifar10(d):
    return _cifar("cifar-10", d, "cifar-10-batches-py", ["data_batch_%d" % i for i in range(1, 6)], ["test_batch"], b"labels")


def _cifar100(d):
    return _cifar("cifar-100", d, "cifar-100-python", ["train"], ["test"], b"fine_labels")


def _idx(path):
    op = gzip.open if path.endswith(".gz") else open
    with op(path, "rb") as fh:
        data = fh.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        raise DataError("%s: not an unsigned-byte IDX file" % path)
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _find(data_dir, folders, stem):
    for f in folders:
        for ext in ("", ".gz"):
            p = os.path.join(data_dir, f, stem + ext)
            if os.path.exists(p):
                return p
    return None


def _mnist_like(name, data_dir, folders):
    out = []
    for pre in ("train", "t10k"):
        xi = _find(data_dir, folders, pre + "-images-idx3-ubyte")
        yi = _find(data_dir, folders, pre + "-labels-idx1-ubyte")
        if not xi or not yi:
            raise _missing(name, data_dir, pre + "-images-idx3-ubyte / " + pre + "-labels-idx1-ubyte")
        x = _idx(xi)
        out.append((x.reshape(x.shape[0], 1, x.shape[1], x.shape[2]), _idx(yi).astype(np.int64)))
    return out


def _mnist(d):
    return _mnist_like("mnist", d, ["MNIST/raw", "mnist", "MNIST", "."])


def _fmnist(d):
    return _mnist_like("fashion-mnist", d, ["FashionMNIST/raw", "fashion-mnist", "FashionMNIST", "."])


def _svhn(d):
    try:
        import scipy.io as sio
    except ImportError:
        raise DataError("dataset svhn needs scipy to read its .mat files: apt install python3-scipy (or pip install scipy)")
    out = []
    for split in ("train", "test"):
        path = None
        for f in (".", "svhn", "SVHN"):
            p = os.path.join(d, f, split + "_32x32.mat")
            if os.path.exists(p):
                path = p
                break
        if not path:
            raise _missing("svhn", d, split + "_32x32.mat")
        m = sio.loadmat(path)
        x = np.transpose(m["X"], (3, 2, 0, 1))
        y = m["y"].astype(np.int64).reshape(-1)
        y[y == 10] = 0
        out.append((np.ascontiguousarray(x), y))
    return out
