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


SECRET = "0123456789abcdef0123456789abcdef"


class Shapes(unittest.TestCase):
    def test_deterministic_balanced_and_sized(self):
        p = {"n_train": 200, "n_test": 50, "seed": 3, "size": 24, "classes": 5}
        a = prepare.shapes(p, prepare._secret_rng(SECRET))
        b = prepare.shapes(p, prepare._secret_rng(SECRET))
        c = prepare.shapes(dict(p, seed=4), prepare._secret_rng(SECRET))
        other = prepare.shapes(p, prepare._secret_rng("f" * 32))
        self.assertEqual(a[0][0].shape, (200, 3, 24, 24))
        self.assertEqual(a[1][0].shape, (50, 3, 24, 24))
        self.assertTrue(np.array_equal(a[0][0], b[0][0]) and np.array_equal(a[1][1], b[1][1]))
        self.assertFalse(np.array_equal(a[0][0], c[0][0]))
        # the seed fixes the training split; only the secret fixes the test split
        self.assertTrue(np.array_equal(a[0][0], other[0][0]))
        self.assertFalse(np.array_equal(a[1][0], other[1][0]))
        self.assertEqual(set(np.unique(a[0][1])), set(range(5)))
        # train and test are different draws
        self.assertFalse(np.array_equal(a[0][0][:50], a[1][0]))

    def test_bad_params(self):
        with self.assertRaises(prepare.DataError):
            prepare.shapes({"classes": 11}, prepare._secret_rng(SECRET))
        with self.assertRaises(prepare.DataError):
            prepare.shapes({"size": 4}, prepare._secret_rng(SECRET))
        with self.assertRaises(prepare.DataError):
            prepare._secret_rng("")

    def test_run_writes_public_and_private(self):
        with tempfile.TemporaryDirectory() as out:
            ch = Chan()
            prepare.run({"name": "shapes", "out": out, "params": {"n_train": 64, "n_test": 16, "classes": 4}, "test_secret": SECRET}, ch)
            self.assertEqual(sorted(os.listdir(os.path.join(out, "public"))), ["meta.json", "test_x.npy", "train_x.npy", "train_y.npy"])
            self.assertEqual(os.listdir(os.path.join(out, "private")), ["test_y.npy"])
            with open(os.path.join(out, "public", "meta.json")) as fh:
                meta = json.load(fh)
            self.assertEqual((meta["classes"], meta["n_train"], meta["n_test"], meta["channels"]), (4, 64, 16, 3))
            self.assertEqual(ch.events[-1]["t"], "done")
            for root, _, files in os.walk(os.path.join(out, "public")):
                for f in files:
                    with open(os.path.join(root, f), "rb") as fh:
                        self.assertNotIn(SECRET.encode(), fh.read(), "the secret leaked into " + f)


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
        a = prepare._subset((x, y), 10, np.random.default_rng(1), True)
        b = prepare._subset((x, y), 10, np.random.default_rng(1), True)
        self.assertTrue(np.array_equal(a[1], b[1]))
        self.assertEqual(len(a[1]), 10)
        self.assertTrue(np.all(np.diff(a[1]) > 0), "a training subset keeps the source's order")
        full = prepare._subset((x, y), 0, np.random.default_rng(1), True)
        self.assertTrue(np.array_equal(full[1], y))

    def test_test_split_is_shuffled_by_the_secret(self):
        x = np.arange(100).reshape(100, 1, 1, 1).astype(np.uint8)
        y = np.arange(100)
        a = prepare._subset((x, y), 0, prepare._secret_rng(SECRET), False)
        b = prepare._subset((x, y), 0, prepare._secret_rng("e" * 32), False)
        self.assertEqual(sorted(a[1]), list(y))
        self.assertTrue(np.array_equal(a[0].reshape(-1), a[1]), "images and labels move together")
        self.assertFalse(np.array_equal(a[1], y))
        self.assertFalse(np.array_equal(a[1], b[1]))


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


class HeldElements(unittest.TestCase):
    def test_counts_every_tensor_the_model_holds_once(self):
        import types

        import torch

        from nngpt_worker import train

        mod = types.ModuleType("nngpt_model")

        class Net(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = torch.nn.Linear(10, 10)                   # 110 parameters
                self.register_buffer("mask", torch.ones(5))         # 5
                self.plain = torch.zeros(100)                       # 100
                self.rows = [torch.zeros(7), {"w": torch.zeros(3)}]  # 10
                self.view = self.plain[:50]                         # shares plain's storage
                self.arr = np.zeros(20)                             # 20

        Net.__module__ = mod.__name__
        mod.Net = Net
        mod.TABLE = torch.zeros(1000)                               # 1000, in the module's globals
        mod.torch = torch                                           # another module: not walked
        self.assertEqual(train.held_elements(Net(), mod), 110 + 5 + 100 + 10 + 20 + 1000)
