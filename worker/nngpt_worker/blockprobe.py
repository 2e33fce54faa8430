"""Level-2 check of an NN-RAG block: build a named nn.Module class with its
defaults, or with arguments inferred from its signature (names, annotations,
config classes), and run a small input through forward.

The input is inferred from the built module: the first layer with weights
says whether it takes images (NCHW), videos (NCTHW), sequences or tokens,
and with how many channels; forward's signature says how many inputs it
takes and whether they are lists or dicts of feature maps. Several
candidates are tried, cheapest first, within a time budget.
"""

import collections.abc
import inspect
import re
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

    def __init__(self, mod, nn, variant):
        self.mod = mod
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

    def str_value(self, lname):
        # A string parameter usually selects among the literals the code
        # compares it with: take the first.
        src = getattr(self, "source", "")
        for pat in (r"\b%s\s*(?:not\s+)?in\s*[\[\(\{]\s*[\"']([\w-]+)[\"']", r"\b%s\s*[!=]=\s*[\"']([\w-]+)[\"']",
                    r"[\"']([\w-]+)[\"']\s*[!=]=\s*%s\b"):
            m = re.search(pat % re.escape(lname), src)
            if m:
                return m.group(1)
        if "act" in lname or "nonlinearity" in lname:
            return "relu"
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


def builds(cls, mod, deadline, errors):
    """Yields (obj, kwargs, variant): cls built with its defaults when it
    needs nothing, otherwise once per variant of guessed arguments."""
    import torch.nn as nn

    req = _required(cls)
    if req == []:
        try:
            yield cls(), {}, None
        except Exception as e:
            errors.append("defaults: %s: %s" % (type(e).__name__, e))
        return
    for variant in _VARIANTS:
        if time.monotonic() > deadline:
            return
        g = _Guesser(mod, nn, variant)
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
        try:
            obj = _instantiate(cls, kwargs, g)
        except Exception as e:
            errors.append("%s: %s: %s" % (_short(kwargs), type(e).__name__, str(e)[:200]))
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
    size = None
    for k in ("image_size", "img_size", "input_size", "resolution"):
        if isinstance(kwargs.get(k), int):
            size = kwargs[k]
    for k in ("image_size", "img_size"):
        v = getattr(obj, k, None)
        if isinstance(v, int):
            size = v
    sizes = [size] if size else [32, 64, 128, 224, 299]
    shapes = []
    kind = "image"
    if isinstance(layer, nn.Conv2d):
        shapes = [(2, layer.in_channels, s, s) for s in sizes]
    elif isinstance(layer, nn.Conv3d):
        shapes = [(2, layer.in_channels, 4, s, s) for s in sizes[:2]] + [(1, layer.in_channels, 16, 112, 112), (1, layer.in_channels, 32, 112, 112)]
    elif isinstance(layer, nn.Conv1d):
        shapes = [(2, layer.in_channels, 64)]
    elif isinstance(layer, nn.Embedding):
        kind = "tokens"
        shapes = [(2, 16)]
    elif isinstance(layer, (nn.BatchNorm2d, nn.GroupNorm)):
        ch = layer.num_features if isinstance(layer, nn.BatchNorm2d) else layer.num_channels
        shapes = [(2, ch, s, s) for s in sizes[:3]]
    elif isinstance(layer, nn.BatchNorm3d):
        shapes = [(2, layer.num_features, 4, s, s) for s in sizes[:2]]
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


def probe(mod, cls_name, budget=60.0):
    """Level 2 for class cls_name of the executed module mod: a dict with
    build (bool), forward (bool), kwargs, input, output, errors."""
    import torch
    import torch.nn as nn

    deadline = time.monotonic() + budget
    res = {"build": False, "forward": False, "kwargs": {}, "input": "", "output": "", "errors": []}
    cls = getattr(mod, cls_name, None)
    if not inspect.isclass(cls):
        res["errors"].append("no class %s at module level" % cls_name)
        return res
    if not issubclass(cls, nn.Module):
        res["errors"].append("%s is not an nn.Module" % cls_name)
        return res
    for obj, kwargs, variant in builds(cls, mod, deadline, res["errors"]):
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
                out = _call(obj, args, torch)
            except Exception as e:
                res["errors"].append("%s: %s: %s" % (desc, type(e).__name__, str(e)[:200]))
                continue
            res["forward"] = True
            res["input"] = desc
            res["output"] = _describe(out, torch)
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
    res = probe(mod, cls_name, float(spec.get("budget") or 45))
    if res["build"]:
        ch.emit("stage", stage="build", kwargs=res["kwargs"])
    info = {"input": res["input"], "output": res["output"], "errors": res["errors"][-8:]}
    reason = "" if res["forward"] else ("could not build %s: " % cls_name if not res["build"] else "forward failed: ") + \
        " | ".join(e[:300] for e in _ends(res["errors"]))
    ch.emit("done", level=2 if res["forward"] else 1, forward=res["forward"], info=info,
            output=res["output"], reason=reason[:2000])
