"""The ``probe`` job: does a file execute as a module in a fresh interpreter
(level 1), and can a named class be instantiated and run forward on a small
input (level 2)? NN-RAG uses it to judge extracted blocks.
"""

import inspect

from . import classify
from .classify import Failure

# Guesses for constructor arguments without defaults, by name.
_GUESS = (
    (("num_classes", "n_classes", "classes", "out_classes", "num_labels"), 10),
    (("in_channels", "in_ch", "in_chans", "inp", "inplanes", "input_channels", "c_in", "channels", "in_planes", "ch_in"), 16),
    (("out_channels", "out_ch", "planes", "ouplanes", "oup", "c_out", "out_planes", "ch_out", "outplanes"), 16),
    (("dim", "d_model", "embed_dim", "hidden_dim", "hidden_size", "features", "num_features", "in_features", "width"), 16),
    (("out_features",), 16),
    (("kernel_size", "k", "ksize"), 3),
    (("stride", "groups", "dilation", "expansion", "depth", "num_layers", "layers"), 1),
    (("num_heads", "heads", "n_heads"), 2),
    (("padding",), 1),
    (("dropout", "drop", "p", "drop_rate", "drop_prob", "attn_drop", "proj_drop", "drop_path"), 0.0),
    (("reduction", "ratio", "expand_ratio", "mlp_ratio"), 4),
)


def run(spec, ch):
    stage = "probe"
    try:
        _run(spec, ch)
    except Failure as f:
        ch.emit("error", stage=stage, kind=f.kind, message=f.message, traceback="")
    except BaseException as e:
        ch.emit("error", stage=stage, kind=classify.kind_of(e, "contract"),
                message="%s: %s" % (type(e).__name__, e), traceback=classify.tail(e))


def _run(spec, ch):
    import importlib.util
    import sys

    path = spec["model"]["path"]
    with open(path, encoding="utf-8") as fh:
        src = fh.read()
    try:
        code = compile(src, path, "exec", dont_inherit=True)
    except SyntaxError as e:
        raise Failure("syntax", "line %s col %s: %s" % (e.lineno, e.offset, e.msg))
    ch.emit("stage", stage="parse")
    mspec = importlib.util.spec_from_file_location("nngpt_probe", path)
    mod = importlib.util.module_from_spec(mspec)
    sys.modules["nngpt_probe"] = mod
    exec(code, mod.__dict__)
    modules = []
    try:
        import torch.nn as nn

        modules = sorted(k for k, v in vars(mod).items()
                         if isinstance(v, type) and issubclass(v, nn.Module) and v.__module__ == "nngpt_probe")
    except ImportError:
        pass
    ch.emit("stage", stage="module", modules=modules)
    cls_name = spec.get("class")
    if int(spec.get("level") or 1) < 2 or not cls_name:
        ch.emit("done", level=1, modules=modules)
        return
    import torch

    cls = getattr(mod, cls_name, None)
    if not isinstance(cls, type):
        raise Failure("contract", "no class %s at module level (found: %s)" % (cls_name, ", ".join(modules) or "none"))
    args = spec.get("args")
    kwargs = spec.get("kwargs")
    guessed = {}
    if args is None and kwargs is None:
        kwargs, guessed = _guess(cls)
    obj = cls(*(args or []), **(kwargs or {}))
    ch.emit("stage", stage="build", kwargs=guessed)
    if not isinstance(obj, nn.Module):
        ch.emit("done", level=2, forward=False, reason="not an nn.Module")
        return
    obj.eval()
    shapes = spec.get("input_shapes") or _input_shapes(guessed)
    errs = []
    for shp in shapes:
        try:
            with torch.no_grad():
                out = obj(torch.randn(*shp))
            oshape = list(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            ch.emit("done", level=2, forward=True, input=shp, output=oshape)
            return
        except Exception as e:
            errs.append("%s: %s: %s" % (shp, type(e).__name__, e))
    raise Failure("forward", "forward failed on every input tried: " + " | ".join(errs)[-2000:])


def _guess(cls):
    kw, guessed = {}, {}
    try:
        sig = inspect.signature(cls.__init__)
    except (TypeError, ValueError):
        return kw, guessed
    for i, (name, p) in enumerate(sig.parameters.items()):
        if i == 0 or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.default is not p.empty:
            continue
        val = None
        for names, v in _GUESS:
            if name in names:
                val = v
                break
        if val is None:
            val = 16
        kw[name] = val
        guessed[name] = val
    return kw, guessed


def _input_shapes(guessed):
    c = 16
    for k in ("in_channels", "in_ch", "in_chans", "inp", "inplanes", "input_channels", "c_in", "channels", "in_planes",
              "ch_in", "dim", "d_model", "embed_dim", "hidden_dim", "in_features", "num_features", "features"):
        if k in guessed:
            c = guessed[k]
            break
    if not guessed:
        c = 3
    return [[2, c, 32, 32], [2, 64, c], [2, c], [2, c, 64]]
