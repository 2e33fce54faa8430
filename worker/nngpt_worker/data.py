"""Reading a prepared dataset inside the sandbox and feeding the model."""

import json
import math
import os


def load_meta(d):
    with open(os.path.join(d, "meta.json")) as fh:
        return json.load(fh)


def load_split(d, name, device):
    import numpy as np
    import torch

    a = np.load(os.path.join(d, name + ".npy"))
    t = torch.from_numpy(a)
    if t.dtype != torch.uint8:
        t = t.long()
    elif name.endswith("_y"):
        t = t.long()
    return t.to(device) if str(device) != "cpu" else t


class TrainLoader:
    """An iterable of (inputs, labels) batches over in-memory tensors,
    reshuffled on every pass; it counts what the model consumed.

    A last batch of a single sample is dropped: BatchNorm in training mode
    cannot normalise one value, and LEMUR's loaders never produce one for its
    datasets either."""

    def __init__(self, x, y, batch, transform, gen, tgen, on_batch=None):
        self.x, self.y = x, y
        self.on_batch = on_batch  # called with (batch in this pass, batches per pass)
        self.batch = batch
        self.transform = transform
        self.gen = gen  # the shuffle (CPU)
        self.tgen = tgen  # random transforms (on the data's device)
        self.samples = 0
        self.batches = 0
        n = len(y)
        self._n = n - 1 if n % batch == 1 and n > 1 else n

    def __len__(self):
        return math.ceil(self._n / self.batch)

    def __iter__(self):
        import torch

        perm = torch.randperm(len(self.y), generator=self.gen)[: self._n]
        if self.x.device.type != "cpu":
            perm = perm.to(self.x.device)
        total = len(self)
        for k, i in enumerate(range(0, self._n, self.batch)):
            idx = perm[i:i + self.batch]
            xb = self.transform(self.x.index_select(0, idx), True, self.tgen)
            yb = self.y.index_select(0, idx)
            self.samples += len(idx)
            self.batches += 1
            if self.on_batch is not None:
                self.on_batch(k + 1, total)
            yield xb, yb
