"""Unit tests of the worker's pure-Python parts: dataset readers, the
shapes generator, transform names, the event channel. Run by the Go test
TestPythonUnits (worker package) with the interpreter nngpt finds."""

import gzip
import json
import os
import pickle
import struct
import tempfile
import unittest

import numpy as np

from nngpt_worker import prepare, proto, transforms


class Chan:
    def __init__(self):
        self.events = []

    def emit(self, t, **kw):
        self.events.append(dict(t=t, **kw))


def write_idx(path, arr, gz):
    arr = np.asarray(arr, dtype=np.uint8)
    head = struct.pack(">HBB", 0, 8, arr.ndim) + struct.pack(">" + "I" * arr.ndim, *arr.shape)
    op = gzip.open if gz else open
    with op(path, "wb") as fh:
        fh.write(head + arr.tobytes())


class Shapes(unittest.TestCase):
    def test_deterministic_balanced_and_sized(self):
        a = prepare.shapes({"n_train": 200, "n_test": 50, "seed": 3, "size": 24, "classes": 5})
        b = prepare.shapes({"n_train": 200, "n_test": 50, "seed": 3, "size": 24, "classes": 5})
        c = prepare.shapes({"n_train": 200, "n_test": 50, "seed": 4, "size": 24, "classes": 5})
        self.assertEqual(a[0][0].shape, (200, 3, 24, 24))
        self.assertEqual(a[1][0].shape, (50, 3, 24, 24))
        self.assertTrue(np.array_equal(a[0][0], b[0][0]) and np.array_equal(a[1][1], b[1][1]))
        self.assertFalse(np.array_equal(a[0][0], c[0][0]))
        self.assertEqual(set(np.unique(a[0][1])), set(range(5)))
        # train and test are different draws
        self.assertFalse(np.array_equal(a[0][0][:50], a[1][0]))

    def test_bad_params(self):
        with self.assertRaises(prepare.DataError):
            prepare.shapes({"classes": 11})
        with self.assertRaises(prepare.DataError):
            prepare.shapes({"size": 4})

    def test_run_writes_public_and_private(self):
        with tempfile.TemporaryDirectory() as out:
            ch = Chan()
            prepare.run({"name": "shapes", "out": out, "params": {"n_train": 64, "n_test": 16, "classes": 4}}, ch)
            self.assertEqual(sorted(os.listdir(os.path.join(out, "public"))), ["meta.json", "test_x.npy", "train_x.npy", "train_y.npy"])
            self.assertEqual(os.listdir(os.path.join(out, "private")), ["test_y.npy"])
            with open(os.path.join(out, "public", "meta.json")) as fh:
                meta = json.load(fh)
            self.assertEqual((meta["classes"], meta["n_train"], meta["n_test"], meta["channels"]), (4, 64, 16, 3))
            self.assertEqual(ch.events[-1]["t"], "done")


class RealDatasets(unittest.TestCase):
    def test_cifar10(self):
        with tempfile.TemporaryDirectory() as d:
            base = os.path.join(d, "cifar-10-batches-py")
            os.makedirs(base)
            for i, f in enumerate(["data_batch_%d" % k for k in range(1, 6)] + ["test_batch"]):
                data = np.full((3, 3072), i, dtype=np.uint8)
                with open(os.path.join(base, f), "wb") as fh:
                    pickle.dump({b"data": data, b"labels": [i % 10, 1, 2]}, fh)
            (xtr, ytr), (xte, yte) = prepare.real("cifar-10", d, False)
            self.assertEqual(xtr.shape, (15, 3, 32, 32))
            self.assertEqual(xte.shape, (3, 3, 32, 32))
            self.assertEqual(list(yte), [5, 1, 2])
            self.assertEqual(int(xte[0, 0, 0, 0]), 5)

    def test_cifar100_fine_labels(self):
        with tempfile.TemporaryDirectory() as d:
            base = os.path.join(d, "cifar-100-python")
            os.makedirs(base)
            for f, lab in (("train", [77, 3]), ("test", [99, 0])):
                with open(os.path.join(base, f), "wb") as fh:
                    pickle.dump({b"data": np.zeros((2, 3072), np.uint8), b"fine_labels": lab, b"coarse_labels": [1, 1]}, fh)
            (_, ytr), (_, yte) = prepare.real("cifar-100", d, False)
            self.assertEqual(list(ytr), [77, 3])
            self.assertEqual(list(yte), [99, 0])

    def test_mnist_gz_and_plain(self):
        for gz in (True, False):
            with tempfile.TemporaryDirectory() as d:
                raw = os.path.join(d, "MNIST", "raw")
                os.makedirs(raw)
                ext = ".gz" if gz else ""
                write_idx(os.path.join(raw, "train-images-idx3-ubyte" + ext), np.arange(4 * 28 * 28).reshape(4, 28, 28) % 256, gz)
                write_idx(os.path.join(raw, "train-labels-idx1-ubyte" + ext), [1, 2, 3, 4], gz)
                write_idx(os.path.join(raw, "t10k-images-idx3-ubyte" + ext), np.zeros((2, 28, 28)), gz)
                write_idx(os.path.join(raw, "t10k-labels-idx1-ubyte" + ext), [7, 9], gz)
                (xtr, ytr), (xte, yte) = prepare.real("mnist", d, False)
                self.assertEqual(xtr.shape, (4, 1, 28, 28))
                self.assertEqual(list(yte), [7, 9])

    def test_missing_files_name_what_and_where(self):
        with tempfile.TemporaryDirectory() as d:
            for name, what in (("cifar-10", "cifar-10-batches-py"), ("mnist", "train-images-idx3-ubyte"),
                               ("fashion-mnist", "train-images-idx3-ubyte"), ("cifar-100", "cifar-100-python")):
                with self.assertRaises(prepare.DataError) as cm:
                    prepare.real(name, d, False)
                msg = str(cm.exception)
                self.assertIn(what, msg)
                self.assertIn("--download", msg)
                self.assertIn("http", msg)
            with self.assertRaises(prepare.DataError) as cm:
                prepare.real("imagenet", d, False)
            self.assertIn("unknown dataset", str(cm.exception))

    def test_subset_is_seeded(self):
        x = np.arange(100).reshape(100, 1, 1, 1).astype(np.uint8)
        y = np.arange(100)
        a = prepare._subset((x, y), 10, 1)
        b = prepare._subset((x, y), 10, 1)
        self.assertTrue(np.array_equal(a[1], b[1]))
        self.assertEqual(len(a[1]), 10)


class Transforms(unittest.TestCase):
    def test_names(self):
        self.assertEqual(transforms.parse("norm"), ("norm", None, False))
        self.assertEqual(transforms.parse("complex_64_flip"), ("complex", 64, True))
        self.assertEqual(transforms.parse("echo_299"), ("echo", 299, False))
        for bad in ("norm_33", "flip", "", "norm_flip_64"):
            with self.assertRaises(ValueError):
                transforms.parse(bad)

    def test_batch_transforms(self):
        import torch

        x = torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8)
        g = torch.Generator().manual_seed(0)
        echo = transforms.BatchTransform("echo", [0.5] * 3, [0.25] * 3, (32, 32), torch.device("cpu"))
        out = echo(x, True, g)
        self.assertTrue(torch.allclose(out, x.float() / 255))
        norm = transforms.BatchTransform("norm_64", [0.5] * 3, [0.25] * 3, (32, 32), torch.device("cpu"))
        out = norm(x, False, g)
        self.assertEqual(tuple(out.shape), (8, 3, 64, 64))
        comp = transforms.BatchTransform("complex", [0.5] * 3, [0.25] * 3, (32, 32), torch.device("cpu"))
        a, b = comp(x, True, g), comp(x, True, g)
        self.assertEqual(tuple(a.shape), (8, 3, 32, 32))
        self.assertFalse(torch.equal(a, b))  # random per call
        self.assertTrue(torch.equal(comp(x, False, g), comp(x, False, g)))  # no randomness at test time
        flip = transforms.BatchTransform("echo_flip", [0.5] * 3, [0.25] * 3, (32, 32), torch.device("cpu"))
        f = flip(x, True, g)
        for i in range(8):
            xi = x[i].float() / 255
            self.assertTrue(torch.equal(f[i], xi) or torch.equal(f[i], xi.flip(-1)))


class Channel(unittest.TestCase):
    def test_nonce_seq_fd_move_and_forks_silent(self):
        import subprocess
        import sys

        code = """
import os, fcntl
from nngpt_worker import proto
fd = proto.take_event_fd(3)
assert fd > 3
try:
    os.fstat(3)
    raise SystemExit("fd 3 still open")
except OSError:
    pass
assert fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC
ch = proto.Channel(fd, "n0nce")
ch.emit("stage", stage="parse")
if os.fork() == 0:
    ch.emit("forged")  # a forked child exits instead of speaking
    os._exit(3)
os.wait()
ch.emit("done")
"""
        r, w = os.pipe()
        env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        p = subprocess.Popen([sys.executable, "-c", code], pass_fds=(3,), env=env,
                             preexec_fn=lambda: (os.dup2(w, 3), os.set_inheritable(3, True)))
        os.close(w)
        data = b""
        while True:
            b = os.read(r, 4096)
            if not b:
                break
            data += b
        self.assertEqual(p.wait(), 0)
        evs = [json.loads(l) for l in data.decode().splitlines()]
        self.assertEqual([(e["seq"], e["nonce"], e["t"]) for e in evs], [(1, "n0nce", "stage"), (2, "n0nce", "done")])


if __name__ == "__main__":
    unittest.main()
