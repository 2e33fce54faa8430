"""Level-2 check of an NN-RAG block: build a named nn.Module class with its
defaults, or with arguments inferred from its signature (names, annotations,
config classes), and run a small input through forward.

The input is inferred from the built module: the first layer with weights
says whether it takes images (NCHW), videos (NCTHW), sequences or tokens,
and with how many channels; forward's signature says how many inputs it
takes and whether they are lists or dicts of feature maps. Several
candidates are tried, cheapest first, within a time budget.
"""

import __future__
import ast
import collections.abc
import contextlib
import functools
import inspect
import math
import re
import signal
import time
import typing

_INT_BY_NAME = (
    (("num_classes", "n_classes", "classes", "out_classes", "num_labels"), 10),
    (("kernel_size", "kernel", "k", "ksize"), 3),
    (("stride", "groups", "dilation", "num_layers", "depth", "n_layers", "repeats", "num_blocks", "blocks"), 1),
    (("num_heads", "heads", "n_heads", "head", "nhead"), 2),
    (("padding", "pad"), 1),
    (("reduction", "ratio", "expand_ratio", "mlp_ratio", "expansion", "expand", "t"), 2),
    (("image_size", "img_size", "input_size", "size", "resolution"), 32),
    (("patch_size", "patch", "window_size", "partition_size", "grid_size"), 4),
    (("seq_len", "max_len", "num_tokens", "num_positions"), 16),
    (("vocab_size", "num_embeddings", "vocab"), 100),
)
_FLOAT_BY_NAME = (
    (("eps", "epsilon", "norm_eps"), 1e-5),
    (("dropout", "drop", "p", "drop_rate", "drop_prob", "attn_drop", "proj_drop", "drop_path", "attention_dropout",
      "stochastic_depth_prob", "dropout_rate", "block_size"), 0.0),
    (("momentum", "bn_momentum"), 0.1),
    (("width_mult", "depth_mult", "alpha", "scale", "gamma", "layer_scale"), 1.0),
)
_BLOCK_WORDS = ("block", "unit", "cell", "layer_type", "module_type")
_CONFIG_WORDS = ("cfg", "config", "arch", "setting", "genotype", "spec", "structure")
_TOKEN_PARAMS = ("input_ids", "tokens", "token_ids", "idx", "src_tokens", "ids")


def _lookup(table, name):
    for names, v in table:
        if name in names:
            return v
    return None


def _unwrap_optional(ann):
    if typing.get_origin(ann) is typing.Union:
        args = [a for a in typing.get_args(ann) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return ann


class _Guesser:
    """Guesses a value per constructor parameter for one variant."""

    def __init__(self, mod, nn, variant, turn=0, target=None):
        self.mod = mod
        self.turn = turn  # which of several offers this variant takes
        self.target = target
        self.source = getattr(mod, "__nngpt_source__", "")
        if not self.source:
            try:
                self.source = inspect.getsource(mod)
            except (OSError, TypeError):
                self.source = ""
        self.nn = nn
        self.cin, self.cout, self.nd = variant  # channels in and out, spatial dimensions

    def channels(self, name):
        n = name.lower()
        if any(s in n for s in ("out", "oup", "planes", "ouplanes", "hidden", "mid", "squeeze", "width", "expand", "bottleneck", "inter")):
            if n in ("inplanes", "in_planes") or n.startswith("in"):
                return self.cin
            return self.cout
        if any(s in n for s in ("in", "channel", "ch", "dim", "feature", "d_model", "c1", "c2", "filters", "size", "embed", "num_features")):
            return self.cin
        return None

    def value(self, name, ann, depth):
        if isinstance(ann, str):
            # An annotation left as a string (from __future__ import
            # annotations, or a forward reference): evaluate it where the
            # class was defined, else go by the name alone.
            try:
                ann = eval(ann, vars(self.mod))
            except Exception:
                ann = inspect.Parameter.empty
        v = self.value1(name, ann, depth)
        if v is None and ann is not inspect.Parameter.empty and ann not in (str, int, float, bool):
            # An annotation the guesser cannot read: go by the name. A
            # plain str says what it wants; an int would be no guess.
            v = self.value1(name, inspect.Parameter.empty, depth)
        return v

    def value1(self, name, ann, depth):
        nn = self.nn
        ann = _unwrap_optional(ann)
        origin = typing.get_origin(ann)
        args = typing.get_args(ann)
        lname = name.lower()
        if ann is bool:
            return False
        if origin is tuple and args and args[-1] is not Ellipsis and len(args) > 1:
            # Tuple[int, int, int]: exactly that many values.
            v = self.value(name, typing.List[args[0]], depth)
            if isinstance(v, list) and v:
                if len(args) == 3 and len(v) == 2:
                    v = [self.cin] + v  # (channels, height, width)
                return tuple((v * len(args))[:len(args)])
            return v
        if origin in (list, tuple, collections.abc.Sequence) or ann in (list, tuple):
            inner = _unwrap_optional(args[0]) if args else int
            if typing.get_origin(inner) is typing.Union:
                inner = typing.get_args(inner)[0]
            if inner is bool:
                return [False, False, False]
            if inner is int or inner is float:
                if any(w in lname for w in ("input_size", "image_size", "img_size", "spatial_size", "grid")):
                    return [32, 32]
                if any(w in lname for w in ("window", "patch", "kernel", "partition")):
                    return [4, 4] if "kernel" not in lname else [3, 3]
                if any(w in lname for w in ("stride", "dilation", "padding")):
                    return [1, 1]
                if "shift" in lname:
                    return [0, 0]
                if lname in ("dims", "perm", "permutation", "order", "axes"):
                    return [0, 2, 3, 1]
                if "mean" in lname or "std" in lname:
                    return [0.5, 0.5, 0.5]
                if "head" in lname:
                    return [2] * 4
                if "channel" in lname or "dim" in lname or "width" in lname or "planes" in lname or "features" in lname:
                    return [self.cin] * 4
                return [1] * 4
            if inspect.isclass(inner) and not issubclass(inner, nn.Module) and depth < 2:
                v = self.construct(inner, depth + 1)
                return [v, v] if v is not None else None
            v = self.value(name, inner, depth + 1) if depth < 2 else None
            return [v] * 4 if v is not None else None
        if origin is typing.Union and args:
            for a in args:
                v = self.value(name, a, depth)
                if v is not None:
                    return v
            return None
        if origin in (type, typing.Type) and args:
            target = _unwrap_optional(args[0])
            if typing.get_origin(target) is typing.Union:
                target = typing.get_args(target)[0]
            if inspect.isclass(target):
                return target
        if origin is collections.abc.Callable or ann is typing.Callable:
            return self.layer_factory(lname)
        if inspect.isclass(ann) and ann is not inspect.Parameter.empty:
            if issubclass(ann, nn.Module):
                return self.module_arg(lname, ann)
            if ann is int:
                return self.int_value(lname)
            if ann is float:
                f = _lookup(_FLOAT_BY_NAME, lname)
                return 1.0 if f is None else f
            if ann is str:
                return self.str_value(lname)
            if depth < 2 and ann.__module__ not in ("builtins", "typing") and not issubclass(ann, dict):
                return self.construct(ann, depth + 1)
        if ann is inspect.Parameter.empty or ann is typing.Any:
            if any(s in lname for s in ("norm_layer", "norm")):
                return self.layer_factory(lname)
            if any(s in lname for s in ("activation", "act_layer", "act", "nonlinearity")):
                return self.layer_factory(lname)
            if lname in ("backbone", "body", "encoder", "features", "model", "module"):
                return self.module_arg(lname, nn.Module)
            sv = self.str_literal(lname)
            if sv is not None:
                return sv
            offered = self.offer(lname)
            if offered:
                return offered[self.turn % len(offered)]
            camel = "".join(p[:1].upper() + p[1:] for p in lname.split("_"))
            sub = getattr(self.mod, camel, None)
            if inspect.isclass(sub) and issubclass(sub, nn.Module) and depth < 2:
                v = _try_build(sub, self, depth + 1)
                if v is not None:
                    return v
            if lname in ("layers", "channels_list", "in_channels_list", "hidden_layers"):
                return [self.cout, self.cout]
            if "mean" in lname or "std" in lname:
                return [0.5, 0.5, 0.5]
            f = _lookup(_FLOAT_BY_NAME, lname)
            if f is not None:
                return f
            return self.int_value(lname)
        return None

    def offer(self, lname):
        """The module's own values for a parameter that wants a block
        class (block, unit, cell), a config (cfg, config, arch, setting) or
        an instance of the class the name spells (genotype: Genotype)."""
        nn = self.nn
        ns = vars(self.mod)
        out = []
        if any(w in lname for w in _BLOCK_WORDS) and not any(w in lname for w in ("norm", "act", "num", "n_")):
            for k, v in ns.items():
                if (inspect.isclass(v) and issubclass(v, nn.Module) and v is not self.target
                        and getattr(v, "__module__", "") == self.mod.__name__
                        and any(w in k.lower() for w in _BLOCK_WORDS + ("bottleneck", "stage", "residual"))):
                    out.append(v)
            out.sort(key=lambda c: (0 if len(_required(c) or []) else 1, c.__name__))
        camel = "".join(p[:1].upper() + p[1:] for p in lname.split("_")).lower()
        typed = []
        for k, v in ns.items():
            if k.startswith("_") or inspect.isclass(v) or inspect.ismodule(v) or callable(v):
                continue
            if type(v).__name__.lower() == camel and type(v).__module__ == self.mod.__name__:
                typed.append(v)  # genotype=DARTS where DARTS = Genotype(...)
            elif any(w in lname for w in _CONFIG_WORDS) and (lname in k.lower() or any(w in k.lower() for w in _CONFIG_WORDS)):
                if isinstance(v, dict) and v and lname not in k.lower():
                    out.extend(x for x in list(v.values())[:2] if isinstance(x, (list, tuple, dict)))
                elif isinstance(v, (list, tuple, dict)):
                    out.append(v)
        return typed + out

    def str_value(self, lname):
        v = self.str_literal(lname)
        if v is not None:
            return v
        if "act" in lname or "nonlinearity" in lname:
            return "relu"
        return None

    def str_literal(self, lname):
        # A string parameter usually selects among the literals the code
        # compares it with, or the keys of a dict it indexes: take the first.
        src = getattr(self, "source", "")
        m = re.search(r"\b(\w+)\[\s*%s\s*\]" % re.escape(lname), src, re.I)
        if m:
            d = getattr(self.mod, m.group(1), None)
            if isinstance(d, dict) and d and isinstance(next(iter(d)), str):
                return _smallest(list(d))
        for pat in (r"\b%s\s*(?:not\s+)?in\s*[\[\(\{]\s*[\"']([\w-]+)[\"']", r"\b%s\s*[!=]=\s*[\"']([\w-]+)[\"']",
                    r"[\"']([\w-]+)[\"']\s*[!=]=\s*%s\b"):
            m = re.search(pat % re.escape(lname), src, re.I)
            if m:
                return m.group(1)
        return None

    def int_value(self, lname):
        v = _lookup(_INT_BY_NAME, lname)
        if v is not None:
            return v
        c = self.channels(lname)
        if c is not None:
            return c
        return self.cin

    def layer_factory(self, lname):
        nn = self.nn
        if "norm" in lname or "bn" in lname:
            return nn.BatchNorm3d if self.nd == 3 else nn.BatchNorm2d
        if "act" in lname or "nonlinearity" in lname:
            return nn.ReLU
        if "block" in lname:
            return None
        return nn.Identity

    def module_arg(self, lname, ann):
        nn = self.nn
        if ann is not nn.Module and not inspect.isabstract(ann):
            v = _try_build(ann, self, 3)
            if v is not None:
                return v
        # A small convolutional backbone: detection and segmentation models
        # read its out_channels and call it on images.
        body = nn.Sequential(nn.Conv2d(3, self.cout, 3, stride=2, padding=1), nn.ReLU())
        body.out_channels = self.cout
        return body

    def construct(self, cls, depth):
        return _try_build(cls, self, depth)


def _init_of(cls):
    """The first __init__ in the MRO that names its parameters: wrappers
    taking only *args, **kwargs pass them on to their base."""
    for k in cls.__mro__:
        init = k.__dict__.get("__init__")
        if init is None:
            continue
        try:
            sig = inspect.signature(init)
        except (TypeError, ValueError):
            continue
        ps = list(sig.parameters.values())[1:]
        if ps and all(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in ps):
            continue
        return init, sig
    return None, None


def _required(cls):
    init, sig = _init_of(cls)
    if init is None:
        return None
    try:
        hints = typing.get_type_hints(init)
    except Exception:
        hints = {}
    out = []
    for i, (name, p) in enumerate(sig.parameters.items()):
        if i == 0 or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.default is not p.empty:
            continue
        out.append((name, hints.get(name, p.annotation), p.kind))
    return out


def _try_build(cls, g, depth):
    req = _required(cls)
    if req is None:
        return None
    kwargs = {}
    for name, ann, _ in req:
        v = g.value(name, ann, depth)
        if v is None:
            return None
        kwargs[name] = v
    try:
        return cls(**kwargs)
    except Exception:
        return None


_VARIANTS = ((16, 16, 2), (64, 16, 2), (3, 16, 2), (16, 64, 2), (32, 32, 2), (16, 16, 3))
_LIST_LEN = re.compile(r"\b(?:list|tuple|sequence) of (\d+)")
_MISSING = re.compile(r"missing \d+ required (?:positional|keyword-only) arguments?: (.*)")


def _instantiate(cls, kwargs, g):
    """cls(**kwargs); when a wrapper passes **kwargs on to a call that
    misses arguments (BasicConv2d -> nn.Conv2d's kernel_size), guess those
    too and try again."""
    _, sig = _init_of(cls)
    optional = [n for n, p in (sig.parameters.items() if sig else []) if p.default is None]
    for _ in range(4):
        try:
            return cls(**kwargs)
        except Exception as e:
            ll = _LIST_LEN.search(str(e))
            if ll:
                # "expected stages_repeats as list of 3 positive ints"
                before, n = str(e)[:ll.start()], int(ll.group(1))
                hit = [k for k, v in kwargs.items() if isinstance(v, list) and v and len(v) != n and k in before]
                if hit:
                    kwargs[hit[-1]] = [kwargs[hit[-1]][0]] * n
                    continue
            if re.search(r"'int' object is not (?:subscriptable|iterable)|object of type 'int' has no len", str(e)):
                # An int where a list is wanted: plural names (widths,
                # channels, depths, layers) take one value per stage.
                plural = [k for k, v in kwargs.items() if type(v) is int and k.endswith("s") and not k.startswith("num_")
                          and k not in ("classes", "n_classes", "groups", "heads", "bias")]
                if plural:
                    for k in plural:
                        kwargs[k] = [kwargs[k]] * 4
                    continue
            named = [n for n in optional if n not in kwargs and re.search(r"\b%s\b" % n, str(e))
                     and _lookup(_INT_BY_NAME, n) is not None]
            if named:
                for n in named:
                    v = g.value(n, inspect.Parameter.empty, 1)
                    if v is None:
                        raise
                    kwargs[n] = v
                continue
            m = _MISSING.search(str(e)) if isinstance(e, TypeError) else None
            if not m:
                raise
            names = re.findall(r"'(\w+)'", m.group(1))
            added = False
            for n in names:
                if n not in kwargs:
                    v = g.value(n, inspect.Parameter.empty, 1)
                    if v is not None:
                        kwargs[n] = v
                        added = True
            if not added:
                raise
    return cls(**kwargs)


_PRETRAINED = re.compile(r"(^|_)(pretrained|weights|pretrain|encoder_weights|backbone_weights|weights_backbone)$")
_MAX_PARAMS = 200_000_000  # 800 MB of float32 weights: more cannot be meant for a probe


def _offline(fn):
    """Arguments that switch off pretrained weights: nothing can be
    downloaded in the sandbox, and the probe needs none."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return {}
    out = {}
    for name, p in sig.parameters.items():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or not _PRETRAINED.search(name) or p.default is p.empty:
            continue
        if p.default is True:
            out[name] = False
        elif p.default is not None and p.default is not False:
            out[name] = None  # a weights name or enum: ResNet50_Weights.IMAGENET1K_V1
    return out


def _too_big(obj):
    n = sum(p.numel() for p in obj.parameters())
    return "%d parameters (over %d): too large to probe" % (n, _MAX_PARAMS) if n > _MAX_PARAMS else ""


def builds(cls, mod, deadline, errors):
    """Yields (obj, kwargs, variant): cls built with its defaults when it
    needs nothing, otherwise once per variant of guessed arguments."""
    import torch.nn as nn

    req = _required(cls)
    off = _offline(cls)
    if req == []:
        try:
            obj = cls(**off)
        except Exception as e:
            errors.append("defaults: %s: %s" % (type(e).__name__, str(e)[:200]))
            return
        big = _too_big(obj)
        if big:
            errors.append("defaults: " + big)
            return
        yield obj, dict(off), None
        return
    tried = set()
    for turn, variant in enumerate(_VARIANTS):
        if time.monotonic() > deadline:
            return
        g = _Guesser(mod, nn, variant, turn, cls)
        kwargs = {}
        missing = []
        for name, ann, _ in req or []:
            v = g.value(name, ann, 0)
            if v is None:
                missing.append(name)
            kwargs[name] = v
        if missing:
            errors.append("no guess for %s" % ", ".join(missing))
            return
        if isinstance(kwargs.get("kernel_size"), int) and "padding" in kwargs and isinstance(kwargs["padding"], int):
            kwargs["padding"] = kwargs["kernel_size"] // 2  # "same" padding, the convention
        key = _short(kwargs)
        if key in tried:
            continue
        tried.add(key)
        kwargs.update({k: v for k, v in off.items() if k not in kwargs})
        try:
            obj = _instantiate(cls, kwargs, g)
        except Exception as e:
            errors.append("%s: %s: %s" % (_short(kwargs), type(e).__name__, str(e)[:200]))
            continue
        big = _too_big(obj)
        if big:
            errors.append("%s: %s" % (_short(kwargs), big))
            continue
        yield obj, kwargs, variant


def _short(kwargs):
    parts = []
    for k, v in kwargs.items():
        s = v.__name__ if inspect.isclass(v) else repr(v)
        if len(s) > 30:
            s = type(v).__name__
        parts.append("%s=%s" % (k, s))
    return "(" + ", ".join(parts) + ")"


def _first_layer(obj, nn):
    for m in obj.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear, nn.Embedding, nn.LayerNorm,
                          nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.GroupNorm, nn.MultiheadAttention)):
            return m
    return None


def inputs(obj, kwargs, variant):
    """Candidate inputs for obj.forward, cheapest and likeliest first: each
    a (description, args) pair."""
    import torch
    import torch.nn as nn

    c = variant[0] if variant else 3
    if c == 3:
        c = 16
    layer = _first_layer(obj, nn)
    # The size the network says it takes (kwargs, or attributes such as
    # in_size=(224, 224)), else the common image sizes, cheapest first
    # except that ImageNet's 224 comes early: networks built for it fail on
    # anything much smaller.
    size = None
    for k in ("image_size", "img_size", "input_size", "in_size", "resolution"):
        for v in (kwargs.get(k), getattr(obj, k, None)):
            if isinstance(v, int) and 8 <= v <= 1024:
                size = (v, v)
            elif (isinstance(v, (tuple, list)) and len(v) == 2 and all(isinstance(d, int) for d in v)
                  and all(8 <= d <= 1024 for d in v)):
                size = tuple(v)
    sizes = [size] if size else [(32, 32), (224, 224), (64, 64), (128, 128), (299, 299)]
    shapes = []
    kind = "image"
    if isinstance(layer, nn.Conv2d):
        shapes = [(2, layer.in_channels) + s for s in sizes]
    elif isinstance(layer, nn.Conv3d):
        shapes = [(2, layer.in_channels, 4) + s for s in sizes[:2]] + [(1, layer.in_channels, 16, 112, 112), (1, layer.in_channels, 16, 224, 224),
                                                                   (1, layer.in_channels, 32, 112, 112)]
    elif isinstance(layer, nn.Conv1d):
        shapes = [(2, layer.in_channels, 64)]
    elif isinstance(layer, nn.Embedding):
        kind = "tokens"
        shapes = [(2, 16)]
    elif isinstance(layer, (nn.BatchNorm2d, nn.GroupNorm)):
        ch = layer.num_features if isinstance(layer, nn.BatchNorm2d) else layer.num_channels
        shapes = [(2, ch) + s for s in sizes[:3]]
    elif isinstance(layer, nn.BatchNorm3d):
        shapes = [(2, layer.num_features, 4) + s for s in sizes[:2]]
    elif isinstance(layer, nn.BatchNorm1d):
        shapes = [(2, layer.num_features), (2, layer.num_features, 16)]
    elif isinstance(layer, (nn.Linear, nn.LayerNorm, nn.MultiheadAttention)):
        f = layer.in_features if isinstance(layer, nn.Linear) else (
            layer.embed_dim if isinstance(layer, nn.MultiheadAttention) else layer.normalized_shape[-1])
        shapes = [(2, 16, f), (2, 8, 8, f), (2, f), (2, f, 8, 8), (2, 4, 8, 8, f)]
    shapes += [(2, c, 32, 32), (2, 3, 32, 32), (2, c, 64, 64), (2, 3, 224, 224), (2, 16, c), (2, c), (2, c, 4, 16, 16)]
    seen = set()
    shapes = [s for s in shapes if not (s in seen or seen.add(s))]

    try:
        sig = inspect.signature(obj.forward)
        try:
            hints = typing.get_type_hints(obj.forward)
        except Exception:
            hints = {}
        params = [(n, hints.get(n, p.annotation)) for n, p in sig.parameters.items()
                  if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = [("x", inspect.Parameter.empty)]
    if params and params[0][0] in _TOKEN_PARAMS:
        kind = "tokens"
    out = []
    if kind == "tokens":
        vocab = layer.num_embeddings if isinstance(layer, nn.Embedding) else 100
        out.append(("tokens (2, 16)", [torch.randint(0, vocab, (2, 16))] * max(1, len(params))))
    for shp in shapes:
        args = []
        for name, ann in params or [("x", inspect.Parameter.empty)]:
            args.append(_arg_for(name, _unwrap_optional(ann), shp, torch))
        if any(a is None for a in args):
            continue
        out.append(("%s %s" % ("x".join(str(d) for d in shp), "+".join(_kind(a) for a in args)), args))
    if len(params) == 1:
        # Heads of detection and segmentation models take a list or a dict
        # of feature maps.
        for shp in [s for s in shapes if len(s) == 4][:2]:
            b, ch, h, w = shp
            maps = [torch.randn(b, ch, max(1, h >> i), max(1, w >> i)) for i in range(3)]
            out.append(("%s list of 3 maps" % "x".join(str(d) for d in shp), [maps]))
            out.append(("%s dict of 3 maps" % "x".join(str(d) for d in shp), [{str(i): m for i, m in enumerate(maps)}]))
    return out


def _kind(a):
    if isinstance(a, list):
        return "list"
    if isinstance(a, dict):
        return "dict"
    return "tensor"


def _arg_for(name, ann, shp, torch):
    if ann is int:
        v = _lookup(_INT_BY_NAME, name)
        return v if v is not None else 2
    origin = typing.get_origin(ann)
    four = len(shp) == 4
    if name in ("images", "imgs", "image_list") and four:
        return [torch.randn(*shp[1:]) for _ in range(shp[0])]
    if origin in (list, tuple):
        if not four:
            return None
        b, c, h, w = shp
        return [torch.randn(b, c, max(1, h >> i), max(1, w >> i)) for i in range(3)]
    if origin is dict:
        if not four:
            return None
        b, c, h, w = shp
        return {str(i): torch.randn(b, c, max(1, h >> i), max(1, w >> i)) for i in range(3)}
    return torch.randn(*shp)


class _Captured(BaseException):
    """Raised when the class's first forward call has been recorded: the
    builder that led there (a test, a __main__ block, a parent network's
    forward) need not run on. A BaseException, so repository code that
    catches Exception lets it through."""


class _Timeout(BaseException):
    pass


@contextlib.contextmanager
def _alarm(seconds):
    """Interrupts Python code running past seconds (a builder that trains,
    loads data or loops)."""
    def _ring(signum, frame):
        raise _Timeout()

    old = signal.signal(signal.SIGALRM, _ring)
    signal.setitimer(signal.ITIMER_REAL, max(0.05, seconds))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


class _Capture:
    """Records every instance of cls built while a builder runs, with the
    arguments its constructor got, and the first inputs forward gets."""

    def __init__(self, cls):
        self.cls = cls
        self.inits = []  # (obj, args, kwargs), in the order they finished
        self.calls = {}  # id(obj) -> (args, kwargs)
        self.order = []  # objects in the order forward first saw them

    def __enter__(self):
        cls, cap = self.cls, self
        self.had_init, self.had_fwd = "__init__" in cls.__dict__, "forward" in cls.__dict__
        init, fwd = cls.__init__, cls.forward
        self.init, self.fwd = init, fwd

        def __init__(obj, *a, **kw):
            init(obj, *a, **kw)
            if type(obj) is cls and len(cap.inits) < 64:
                cap.inits.append((obj, a, kw))

        def forward(obj, *a, **kw):
            if type(obj) is cls and id(obj) not in cap.calls and any(o is obj for o, _, _ in cap.inits):
                cap.calls[id(obj)] = (a, kw)
                cap.order.append(obj)
                raise _Captured()
            return fwd(obj, *a, **kw)

        cls.__init__, cls.forward = __init__, forward
        return self

    def __exit__(self, *exc):
        for name, had, orig in (("__init__", self.had_init, self.init), ("forward", self.had_fwd, self.fwd)):
            if had:
                setattr(self.cls, name, orig)
            else:
                delattr(self.cls, name)
        return False


def _smallest(names):
    """The name suggesting the smallest model (resnet18 before resnet152,
    tiny before base), as the Go side orders factories."""
    words = {"pico": 0, "nano": 0, "tiny": 1, "micro": 1, "mini": 2, "small": 2, "lite": 2, "s": 2, "base": 3,
             "medium": 3, "m": 3, "large": 4, "l": 4, "huge": 5, "xl": 5, "giant": 6, "xxl": 6}

    def key(n):
        toks = re.findall(r"[a-z]+|[0-9]+", str(n).lower())
        w = min([words[t] for t in toks if t in words] or [3])
        return (w, [int(t) for t in toks if t.isdigit()], str(n))
    return sorted(names, key=key)[0] if names else None


def _registry(reg, cls, depth=0):
    """Builds cls from a registry that holds it: a dict entry whose sibling
    is a dict of arguments ({"encoder": Cls, "params": {...}}), a pair
    (Cls, {...}), or a partial; the smallest-named entries first."""
    errs = []
    items = []
    if isinstance(reg, dict):
        vals = list(reg.values())
        if any(v is cls for v in vals):
            for v in vals:
                if isinstance(v, dict):
                    try:
                        return cls(**v)
                    except Exception as e:
                        errs.append("%s: %s" % (type(e).__name__, e))
        keys = list(reg)
        while keys:
            k = _smallest(keys)
            keys.remove(k)
            items.append(reg[k])
    elif isinstance(reg, (list, tuple)):
        if len(reg) == 2 and reg[0] is cls and isinstance(reg[1], dict):
            return cls(**reg[1])
        items = list(reg)
    elif isinstance(reg, functools.partial) and reg.func is cls:
        return reg()
    for v in items[:32]:
        if depth < 3 and isinstance(v, (dict, list, tuple, functools.partial)):
            try:
                return _registry(v, cls, depth + 1)
            except LookupError:
                continue
            except Exception as e:
                errs.append("%s: %s" % (type(e).__name__, e))
    raise LookupError("no entry builds %s%s" % (cls.__name__, (": " + errs[-1][:200]) if errs else ""))


def _exec_builders(b, path):
    """The module holding the block with the repository's builders."""
    import importlib.util
    import sys

    name = "nngpt_builders"
    mspec = importlib.util.spec_from_loader(name, loader=None)
    mod = importlib.util.module_from_spec(mspec)
    mod.__dict__["__nngpt_registry__"] = _registry
    mod.__dict__["__nngpt_source__"] = b["code"]
    mod.__dict__["__file__"] = path  # the block's: repository code reads its own folder
    sys.modules[name] = mod
    # Statement by statement: a builder or an offered constant that needs a
    # package missing here (an import at its top) must not sink the others.
    fname = "<builders of %s>" % b["class"]
    tree = ast.parse(b["code"], fname)
    flags = 0  # a __future__ import holds for every statement after it
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            for a in node.names:
                flags |= getattr(__future__, a.name).compiler_flag
    first = None
    for node in tree.body:
        try:
            exec(compile(ast.Module(body=[node], type_ignores=[]), fname, "exec", flags=flags, dont_inherit=True), mod.__dict__)
        except Exception as e:
            first = first or e
    if first is not None and b["class"] not in mod.__dict__:
        raise first
    return mod


def _call_way(expr, ns):
    """Evaluates a builder; a plain call NAME() gets the arguments that
    switch off pretrained weights."""
    if expr.endswith("()") and re.fullmatch(r"[A-Za-z_][\w.]*\(\)", expr):
        fn = eval(expr[:-2], ns)
        return fn(**_offline(fn))
    return eval(expr, ns)


def _expr(v, ns, depth=0):
    """A Python expression for v that evaluates to an equal value in the
    namespace ns (the block's), or None."""
    import types

    if depth > 4:
        return None
    if v is None or isinstance(v, (bool, int, str)) and type(v) in (bool, int, str):
        return repr(v)
    if type(v) is float:
        return repr(v) if math.isfinite(v) else None
    if type(v) in (list, tuple):
        parts = [_expr(e, ns, depth + 1) for e in v]
        if any(p is None for p in parts) or len(parts) > 64:
            return None
        if type(v) is list:
            return "[" + ", ".join(parts) + "]"
        return "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"
    if type(v) is dict:
        parts = []
        for k, e in v.items():
            ke, ve = _expr(k, ns, depth + 1), _expr(e, ns, depth + 1)
            if ke is None or ve is None:
                return None
            parts.append(ke + ": " + ve)
        return "{" + ", ".join(parts) + "}"
    if isinstance(v, tuple) and hasattr(v, "_fields"):  # a namedtuple of the repository
        t = _expr(type(v), ns, depth + 1)
        parts = [_expr(e, ns, depth + 1) for e in v]
        if t is None or any(p is None for p in parts):
            return None
        return t + "(" + ", ".join(parts) + ")"
    if inspect.isclass(v) or inspect.isfunction(v) or inspect.isbuiltin(v):
        name = getattr(v, "__name__", "")
        if v.__module__ in ("nngpt_builders", "nngpt_block"):
            return name if inspect.isclass(ns.get(name)) or callable(ns.get(name)) else None
        for k, o in ns.items():
            if o is v:
                return k
        for k, o in ns.items():
            if isinstance(o, types.ModuleType) and getattr(o, name, None) is v:
                return k + "." + name
    return None


def _ctor_call(cls, name, args, kwargs, ns):
    """name(...) for the arguments a constructor got, or None when one of
    them has no expression in ns."""
    parts = []
    for a in args:
        e = _expr(a, ns)
        if e is None:
            return None
        parts.append(e)
    for k, a in kwargs.items():
        e = _expr(a, ns)
        if e is None:
            return None
        parts.append("%s=%s" % (k, e))
    return "%s(%s)" % (name, ", ".join(parts))


def _named(cls, args, kwargs):
    """The constructor's arguments by parameter name, for the report."""
    try:
        bound = inspect.signature(cls).bind_partial(*args, **kwargs).arguments
    except (TypeError, ValueError):
        bound = dict(kwargs, **{"arg%d" % i: a for i, a in enumerate(args)})
    out = {}
    for k, v in bound.items():
        r = v.__name__ if inspect.isclass(v) else repr(v)
        out[k] = r if len(r) < 60 else type(v).__name__
    return out


def _shape(a, torch):
    if isinstance(a, torch.Tensor):
        return "x".join(str(d) for d in a.shape) + " " + ("tokens" if not a.is_floating_point() else "tensor")
    if isinstance(a, (list, tuple)):
        return "%s of %d" % (type(a).__name__, len(a))
    if isinstance(a, dict):
        return "dict of %d" % len(a)
    return type(a).__name__


def _forward(obj, args, kwargs, torch):
    with torch.no_grad():
        return obj(*args, **kwargs)


def _way(way, bmod, bcls, mod, cls_name, res, deadline, budget):
    """Tries one builder of the repository: records the instances of the
    class it builds and their first forward inputs; a parent network that
    builds it as a unit runs forward on inferred inputs to give it them.
    Returns True when an instance ran forward."""
    import torch
    import torch.nn as nn

    errors = res["errors"]
    label = way["label"]
    limit = min(deadline - time.monotonic(), max(5.0, budget / 4))
    if limit <= 0.5:
        return False
    r = None
    with _Capture(bcls) as cap:
        try:
            with _alarm(limit):
                r = _call_way(way["expr"], vars(bmod))
        except _Captured:
            pass
        except _Timeout:
            errors.append("%s: no result within %.0f s" % (label, limit))
        except BaseException as e:  # SystemExit from argparse in a __main__ block too
            if not cap.inits:
                errors.append("%s: %s: %s" % (label, type(e).__name__, str(e)[:200]))
                return False
        if not cap.inits:
            errors.append("%s: built no %s" % (label, cls_name))
            return False
        res["build"] = True
        if not cap.calls and isinstance(r, nn.Module) and type(r) is not bcls:
            # A parent: its forward brings the class its real inputs.
            r.eval()
            for desc, args in inputs(r, {}, None):
                if time.monotonic() > deadline:
                    break
                try:
                    with _alarm(max(0.5, deadline - time.monotonic())):
                        _forward(r, args, {}, torch)
                except _Captured:
                    break
                except BaseException:
                    continue
    if cap.order:
        obj = cap.order[0]
    elif type(r) is bcls:
        obj = r
    else:
        obj = cap.inits[0][0]
    a, kw = next(((a, kw) for o, a, kw in cap.inits if o is obj), ((), {}))
    big = _too_big(obj)
    if big:
        errors.append("%s: %s" % (label, big))
        return False
    obj.eval()
    torch.manual_seed(0)
    tries = []
    if id(obj) in cap.calls:
        ca, ckw = cap.calls[id(obj)]
        desc = " + ".join([_shape(x, torch) for x in ca] + ["%s=%s" % (k, _shape(v, torch)) for k, v in ckw.items()])
        tries.append((desc + " (as the repository calls it)", list(ca), ckw))
    tries += [(d, args, {}) for d, args in inputs(obj, _named(bcls, a, kw), None)]
    for desc, args, kwargs in tries:
        if time.monotonic() > deadline:
            errors.append("time budget spent")
            return False
        try:
            with _alarm(max(0.5, deadline - time.monotonic())):
                out = _forward(obj, args, kwargs, torch)
        except BaseException as e:
            if isinstance(e, (KeyboardInterrupt, SystemExit)):
                raise
            errors.append("%s: %s: %s: %s" % (label, desc, type(e).__name__, str(e)[:200]))
            continue
        res.update(build=True, forward=True, input=desc, output=_describe(out, torch), via=label,
                   kwargs=_named(bcls, a, kw))
        # The call with literal arguments, checked on the block alone: what
        # a model built around the block writes.
        call = _ctor_call(bcls, cls_name, a, kw, vars(mod))
        if call is not None:
            try:
                with _alarm(max(0.5, min(deadline - time.monotonic(), 20))):
                    _forward(eval(call, vars(mod)).eval(), args, kwargs, torch)
                res["constructor"] = call
                return True
            except BaseException as e:
                if isinstance(e, (KeyboardInterrupt, SystemExit)):
                    raise
        # Only the builders' module builds it (the class takes a block
        # class or a config the block lacks): the block becomes that module.
        res["constructor"] = _ctor_call(bcls, cls_name, a, kw, vars(bmod)) or way["expr"]
        res["use_builders"] = True
        return True
    return False


def probe(mod, cls_name, budget=60.0, builders=None):
    """Level 2 for class cls_name of the executed module mod: a dict with
    build (bool), forward (bool), kwargs, input, output, via (the builder
    that worked), constructor (an expression building it) and errors. The
    repository's builders are tried first, then arguments inferred from
    the signature."""
    import torch
    import torch.nn as nn

    start = time.monotonic()
    deadline = start + budget
    res = {"build": False, "forward": False, "kwargs": {}, "input": "", "output": "", "errors": [],
           "via": "", "constructor": "", "use_builders": False}
    cls = getattr(mod, cls_name, None)
    if not inspect.isclass(cls):
        res["errors"].append("no class %s at module level" % cls_name)
        return res
    if not issubclass(cls, nn.Module):
        res["errors"].append("%s is not an nn.Module" % cls_name)
        return res
    bmod = bcls = None
    if builders and builders.get("code"):
        try:
            with _alarm(max(1.0, budget / 4)):
                bmod = _exec_builders(builders, getattr(mod, "__file__", "block.py"))
            bcls = getattr(bmod, builders["class"], None)
            if not (inspect.isclass(bcls) and issubclass(bcls, nn.Module)):
                bmod = bcls = None
        except BaseException as e:
            if isinstance(e, (KeyboardInterrupt, SystemExit)):
                raise
            res["errors"].append("the repository's builders do not execute: %s: %s" % (type(e).__name__, str(e)[:200]))
            bmod = bcls = None
    if bmod is not None:
        # Inference keeps a share of the budget.
        ways_deadline = start + budget * 0.6
        for way in builders.get("ways") or []:
            if time.monotonic() > ways_deadline:
                break
            if _way(way, bmod, bcls, mod, cls_name, res, ways_deadline, budget):
                return res
    # Signature inference, in the builders' module when it runs: it offers
    # the module's own block classes and constants.
    gmod, gcls = (bmod, bcls) if bmod is not None else (mod, cls)
    for obj, kwargs, variant in builds(gcls, gmod, deadline, res["errors"]):
        res["build"] = True
        res["kwargs"] = {k: (v.__name__ if inspect.isclass(v) else (repr(v) if len(repr(v)) < 60 else type(v).__name__))
                         for k, v in kwargs.items()}
        obj.eval()
        torch.manual_seed(0)
        for desc, args in inputs(obj, kwargs, variant):
            if time.monotonic() > deadline:
                res["errors"].append("time budget spent")
                return res
            try:
                with _alarm(max(0.5, min(deadline - time.monotonic(), 20))):
                    out = _call(obj, args, torch)
            except BaseException as e:
                if isinstance(e, (KeyboardInterrupt, SystemExit)):
                    raise
                res["errors"].append("%s: %s: %s" % (desc, type(e).__name__, str(e)[:200]))
                continue
            res["forward"] = True
            res["input"] = desc
            res["output"] = _describe(out, torch)
            res["via"] = "arguments inferred from the signature"
            call = _ctor_call(gcls, cls_name, (), kwargs, vars(mod))
            if call is not None and gmod is not mod:
                try:
                    eval(call, vars(mod))
                except Exception:
                    call = None
            if call is None:
                call = _ctor_call(gcls, cls_name, (), kwargs, vars(gmod)) or ""
                res["use_builders"] = gmod is not mod
            res["constructor"] = call
            return res
    return res


def _call(obj, args, torch):
    """obj(*args) without gradients; a dict of feature maps that lacks a key
    forward reads gets that key (a map like the first) and is tried again."""
    for _ in range(4):
        try:
            with torch.no_grad():
                return obj(*args)
        except KeyError as e:
            d = args[0] if args and isinstance(args[0], dict) else None
            key = e.args[0] if e.args else None
            if d is None or not isinstance(key, str) or key in d or not d:
                raise
            d[key] = next(iter(d.values()))
    with torch.no_grad():
        return obj(*args)


def _describe(out, torch):
    if isinstance(out, torch.Tensor):
        return "tensor" + str(list(out.shape))
    if isinstance(out, (list, tuple)):
        return "%s of %d" % (type(out).__name__, len(out))
    if isinstance(out, dict):
        return "dict of %d" % len(out)
    return type(out).__name__


def run(spec, ch):
    """The ``blockprobe`` job: level 1 executes the file as a module in this
    fresh interpreter; level 2 builds spec["class"] and runs it forward."""
    from . import classify

    try:
        _run(spec, ch)
    except classify.Failure as f:
        ch.emit("error", stage="probe", kind=f.kind, message=f.message, traceback="")
    except BaseException as e:
        ch.emit("error", stage="probe", kind=classify.kind_of(e, "contract"),
                message="%s: %s" % (type(e).__name__, e), traceback=classify.tail(e))


def _ends(errors):
    """The first attempts (the likeliest inputs) and the last ones."""
    return errors if len(errors) <= 4 else errors[:2] + ["..."] + errors[-2:]


def _run(spec, ch):
    import importlib.util
    import sys

    from .classify import Failure

    path = spec["model"]["path"]
    with open(path, encoding="utf-8") as fh:
        src = fh.read()
    try:
        code = compile(src, path, "exec", dont_inherit=True)
    except SyntaxError as e:
        raise Failure("syntax", "line %s col %s: %s" % (e.lineno, e.offset, e.msg))
    ch.emit("stage", stage="parse")
    mspec = importlib.util.spec_from_file_location("nngpt_block", path)
    mod = importlib.util.module_from_spec(mspec)
    sys.modules["nngpt_block"] = mod
    exec(code, mod.__dict__)
    import torch.nn as nn

    modules = sorted(k for k, v in vars(mod).items()
                     if isinstance(v, type) and issubclass(v, nn.Module) and v.__module__ == "nngpt_block")
    ch.emit("stage", stage="module", modules=modules)
    cls_name = spec.get("class")
    if int(spec.get("level") or 1) < 2 or not cls_name:
        ch.emit("done", level=1, modules=modules)
        return
    import torch

    torch.set_num_threads(1)
    res = probe(mod, cls_name, float(spec.get("budget") or 45), spec.get("builders"))
    if res["build"]:
        ch.emit("stage", stage="build", kwargs=res["kwargs"])
    info = {"input": res["input"], "output": res["output"], "errors": res["errors"][-8:], "via": res["via"],
            "constructor": res["constructor"], "use_builders": res["use_builders"]}
    reason = "" if res["forward"] else ("could not build %s: " % cls_name if not res["build"] else "forward failed: ") + \
        " | ".join(e[:300] for e in _ends(res["errors"]))
    ch.emit("done", level=2 if res["forward"] else 1, forward=res["forward"], info=info,
            output=res["output"], reason=reason[:2000])
