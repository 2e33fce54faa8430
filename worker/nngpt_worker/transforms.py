"""LEMUR's transform names as batched tensor transforms.

A name is ``echo|norm|complex`` with an optional size ``_32|_64|_128|_256|
_299|_512`` and an optional ``_flip``. They mean what torchvision's
pipelines in LEMUR mean: ``echo`` = ToTensor (+ Resize), ``norm`` adds
Normalize(mean, std of the dataset), ``complex`` adds augmentation
(RandomCrop with padding, RandomHorizontalFlip, ColorJitter of brightness
and contrast) before Normalize, ``_flip`` adds RandomHorizontalFlip.

They run on whole uint8 batches (on the training device) instead of one PIL
image at a time: per-sample randomness is kept, and the data pipeline costs
next to nothing next to the model.
"""

import re

BASES = ("echo", "norm", "complex")
SIZES = (32, 64, 128, 256, 299, 512)
_RE = re.compile(r"^(echo|norm|complex)(?:_(32|64|128|256|299|512))?(_flip)?$")


def parse(name):
    """Returns (base, size or None, flip) or raises ValueError."""
    m = _RE.match(name or "")
    if not m:
        raise ValueError(
            "transform %r: want echo|norm|complex, optional _32|_64|_128|_256|_299|_512, optional _flip (e.g. norm_64_flip)"
            % (name,))
    return m.group(1), (int(m.group(2)) if m.group(2) else None), bool(m.group(3))


class BatchTransform:
    def __init__(self, name, mean, std, hw, device):
        import torch

        self.base, self.size, self.flip = parse(name)
        self.hw = hw
        self.out_hw = (self.size, self.size) if self.size else tuple(hw)
        c = len(mean)
        self.mean = torch.tensor(mean, dtype=torch.float32, device=device).view(1, c, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32, device=device).view(1, c, 1, 1)
        self.device = device

    def __call__(self, xb, train, gen=None):
        import torch
        import torch.nn.functional as F

        x = xb.to(self.device, non_blocking=True).float().div_(255.0)
        if self.out_hw != tuple(x.shape[-2:]):
            down = self.out_hw[0] < x.shape[-2]
            x = F.interpolate(x, size=self.out_hw, mode="bilinear", align_corners=False, antialias=down)
        if train and self.base == "complex":
            x = _random_crop(x, max(1, self.out_hw[0] // 8), gen)
            x = _random_flip(x, gen)
            x = _jitter(x, 0.2, gen)
        elif train and self.flip:
            x = _random_flip(x, gen)
        if self.base in ("norm", "complex"):
            x = (x - self.mean) / self.std
        return x


def _rand(n, gen, device):
    import torch

    return torch.rand(n, generator=gen, device=device)


def _random_flip(x, gen):
    import torch

    m = _rand(x.shape[0], gen, x.device) < 0.5
    return torch.where(m.view(-1, 1, 1, 1), x.flip(-1), x)


def _random_crop(x, pad, gen):
    """RandomCrop(size, padding=pad) per sample: zero-pad, then gather a
    window at a random offset for each image."""
    import torch
    import torch.nn.functional as F

    b, c, h, w = x.shape
    xp = F.pad(x, (pad, pad, pad, pad))
    dy = (_rand(b, gen, x.device) * (2 * pad + 1)).long().clamp_(max=2 * pad)
    dx = (_rand(b, gen, x.device) * (2 * pad + 1)).long().clamp_(max=2 * pad)
    rows = dy.view(b, 1) + torch.arange(h, device=x.device).view(1, h)
    cols = dx.view(b, 1) + torch.arange(w, device=x.device).view(1, w)
    xr = torch.gather(xp, 2, rows.view(b, 1, h, 1).expand(b, c, h, w + 2 * pad))
    return torch.gather(xr, 3, cols.view(b, 1, 1, w).expand(b, c, h, w))


def _jitter(x, amount, gen):
    b = x.shape[0]
    br = 1.0 + (_rand(b, gen, x.device) * 2 - 1) * amount
    ct = 1.0 + (_rand(b, gen, x.device) * 2 - 1) * amount
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * ct.view(b, 1, 1, 1) + mean
    return (x * br.view(b, 1, 1, 1)).clamp_(0.0, 1.0)
