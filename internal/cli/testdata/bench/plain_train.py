"""The baseline of BenchmarkCheckVsPlain: the same one-epoch training as
`nngpt check BenchCNN.py` in a plain PyTorch script, with no sandbox, no
harness and no contract checks. Reads the prepared shapes arrays, trains one
epoch (SGD lr 0.01 momentum 0.9, batch 64, 'norm'), predicts the test split,
writes the logits and prints JSON timings.

usage: plain_train.py DATASET_DIR OUT.npy THREADS
"""
import json
import os
import sys
import time

t0 = time.perf_counter()
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

t_import = time.perf_counter() - t0
d, out, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
torch.set_num_threads(threads)
torch.manual_seed(0)
meta = json.load(open(os.path.join(d, "public", "meta.json")))
xtr = torch.from_numpy(np.load(os.path.join(d, "public", "train_x.npy")))
ytr = torch.from_numpy(np.load(os.path.join(d, "public", "train_y.npy"))).long()
xte = torch.from_numpy(np.load(os.path.join(d, "public", "test_x.npy")))
mean = torch.tensor(meta["mean"]).view(1, -1, 1, 1)
std = torch.tensor(meta["std"]).view(1, -1, 1, 1)
c, h, w = xtr.shape[1:]
model = nn.Sequential(
    nn.Conv2d(c, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Linear(32 * (h // 4) * (w // 4), 64), nn.ReLU(),
    nn.Linear(64, meta["classes"]),
)
opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
loss_fn = nn.CrossEntropyLoss()
t1 = time.perf_counter()
model.train()
perm = torch.randperm(len(ytr))
for i in range(0, len(ytr), 64):
    idx = perm[i:i + 64]
    x = (xtr[idx].float().div_(255) - mean) / std
    opt.zero_grad()
    loss = loss_fn(model(x), ytr[idx])
    loss.backward()
    opt.step()
t2 = time.perf_counter()
model.eval()
with torch.no_grad():
    logits = torch.cat([model((xte[i:i + 64].float().div_(255) - mean) / std) for i in range(0, len(xte), 64)])
np.save(out, logits.numpy())
t3 = time.perf_counter()
print(json.dumps({"import": t_import, "train": t2 - t1, "eval": t3 - t2, "total": t3 - t0}))
