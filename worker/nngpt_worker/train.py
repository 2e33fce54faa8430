"""The ``train`` job: check, build, train and evaluate one LEMUR-contract
model, reporting each stage as an event.

Stages: start, parse, contract, build, forward, params, then per epoch
train (learn over the loader) and eval (logits for the unlabelled test split
written to scratch/pred-<epoch>.npy; the coordinator computes the accuracy).
"""

import importlib.util
import inspect
import math
import os
import random
import sys
import time

from . import classify, data, transforms
from .classify import Failure


def run(spec, ch, ctl):
    h = Harness(spec, ch, ctl)
    h.stage = "start"
    try:
        h.run()
    except Failure as f:
        ch.emit("error", stage=h.stage, kind=f.kind, message=f.message, traceback="")
    except BaseException as e:  # model code can raise anything, SystemExit included
        ch.emit("error", stage=h.stage, kind=classify.kind_of(e, h.stage),
                message="%s: %s" % (type(e).__name__, e), traceback=classify.tail(e))


class LossMeter:
    """Records the loss values the model's criteria return, without a device
    sync per batch."""

    def __init__(self):
        self.total = None
        self.n = 0

    def add(self, out):
        import torch

        if isinstance(out, torch.Tensor) and out.numel() == 1:
            v = out.detach().float().reshape(())
            self.total = v if self.total is None else self.total + v
            self.n += 1

    def take(self):
        if self.n == 0:
            return None
        v = float(self.total) / self.n
        self.total, self.n = None, 0
        return v


class Harness:
    def __init__(self, spec, ch, ctl):
        self.spec = spec
        self.ch = ch
        self.ctl = ctl
        self.stage = "start"

    def run(self):
        import torch

        sp = self.spec
        threads = int(sp.get("threads") or 0)
        if threads > 0:
            torch.set_num_threads(threads)
        dev = sp.get("device") or "cpu"
        if dev.startswith("cuda") and not torch.cuda.is_available():
            raise Failure("device", "device %s requested but torch.cuda.is_available() is False "
                          "(no GPU visible in the sandbox, or torch built without CUDA)" % dev)
        device = torch.device(dev)
        info = {"torch": torch.__version__, "python": sys.version.split()[0], "device": str(device),
                "threads": torch.get_num_threads()}
        if device.type == "cuda":
            info["gpu"] = torch.cuda.get_device_name(device)
        seed = int(sp.get("seed") or 0)
        random.seed(seed)
        torch.manual_seed(seed)
        try:
            import numpy as np

            np.random.seed(seed % (2 ** 32))
        except ImportError:
            pass

        dd = sp["data"]["dir"]
        meta = data.load_meta(dd)
        xtr = data.load_split(dd, "train_x", device)
        ytr = data.load_split(dd, "train_y", device)
        xte = data.load_split(dd, "test_x", device)
        tf = transforms.BatchTransform(sp.get("transform") or "norm", meta["mean"], meta["std"],
                                       (meta["height"], meta["width"]), device)
        batch = int(sp.get("batch") or 64)
        classes = int(meta["classes"])
        self.ch.emit("stage", stage="start", info=info)

        # parse: compile only, nothing of the model runs yet.
        self.stage = "parse"
        path = sp["model"]["path"]
        with open(path, encoding="utf-8") as fh:
            src = fh.read()
        try:
            code = compile(src, path, "exec", dont_inherit=True)
        except SyntaxError as e:
            raise Failure("syntax", "line %s col %s: %s" % (e.lineno, e.offset, e.msg))
        except ValueError as e:  # null bytes
            raise Failure("syntax", str(e))
        self.ch.emit("stage", stage="parse")

        # contract: run the module, then check what it defines.
        self.stage = "contract"
        mod = _exec_module(code, path, sp["model"].get("name") or "model")
        prm, supported, unused = self._contract(mod, src)
        self.ch.emit("stage", stage="contract", supported=sorted(supported), prm=prm, unused=unused)

        # build
        self.stage = "build"
        c, h, w = meta["channels"], tf.out_hw[0], tf.out_hw[1]
        in_shape = (batch, c, h, w)
        out_shape = (classes,)
        model = mod.Net(in_shape, out_shape, dict(prm), device)
        if not isinstance(model, torch.nn.Module):
            raise Failure("contract", "Net(...) returned %s, want a torch.nn.Module" % type(model).__name__)
        model.to(device)
        model.train_setup(dict(prm))
        meter = LossMeter()
        self._hook_criteria(model, meter)
        if getattr(model, "optimizer", None) is None:
            raise Failure("contract", "train_setup(prm) did not set self.optimizer")
        self.ch.emit("stage", stage="build", in_shape=list(in_shape), out_shape=list(out_shape))

        # forward: one training batch, eval mode, no gradient.
        self.stage = "forward"
        g = torch.Generator()
        g.manual_seed(seed)
        tgen = torch.Generator(device=device) if device.type == "cuda" else g
        if device.type == "cuda":
            tgen.manual_seed(seed)
        nb = min(batch, len(ytr))
        xb = tf(xtr[:nb], False, tgen)
        model.eval()
        with torch.no_grad():
            out = model(xb)
        if not isinstance(out, torch.Tensor):
            raise Failure("shape", "forward returned %s, want a tensor of shape (%d, %d)" % (type(out).__name__, nb, classes))
        if tuple(out.shape) != (nb, classes):
            raise Failure("shape", "forward on a batch of shape %s returned shape %s, want (%d, %d)"
                          % (tuple(xb.shape), tuple(out.shape), nb, classes))
        self.ch.emit("stage", stage="forward", output=list(out.shape))

        # params: nn.Parameters, and every tensor the model holds (buffers,
        # plain tensor attributes, module globals), which the limit applies
        # to. Model code could fake this count; the coordinator checks the
        # memory the worker gained from outside.
        self.stage = "params"
        total = sum(p.numel() for p in model.parameters())
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        held = held_elements(model, mod)
        limit = int(sp.get("max_params") or 0)
        if limit > 0 and total > limit:
            raise Failure("too_big", "%d parameters, limit %d (raise it with --max-params)" % (total, limit))
        if limit > 0 and held > limit:
            raise Failure("too_big", "the model holds %d tensor elements (%d of them parameters), limit %d: "
                          "plain tensors and buffers count too (raise it with --max-params)" % (held, total, limit))
        self.ch.emit("stage", stage="params", params=total, trainable=trainable, tensors=held)
        # The coordinator measures the worker's memory now, then says go.
        if self.ctl.next() != "go":
            return

        epochs = int(sp.get("epochs") or 1)
        progress = {"epoch": 1, "last": 0.0}

        def on_batch(k, total):
            # Batch progress for live displays, at most twice a second.
            now = time.perf_counter()
            if now - progress["last"] >= 0.5 or k == total:
                progress["last"] = now
                self.ch.emit("batch", epoch=progress["epoch"], batch=k, batches=total)

        loader = data.TrainLoader(xtr, ytr, batch, tf, g, tgen, on_batch)
        scratch = sp["scratch"]
        for epoch in range(1, epochs + 1):
            progress["epoch"] = epoch
            self.stage = "train"
            model.train()
            s0, b0 = loader.samples, loader.batches
            t0 = time.perf_counter()
            ret = model.learn(loader)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            t1 = time.perf_counter()
            samples, batches = loader.samples - s0, loader.batches - b0
            if batches == 0:
                raise Failure("contract", "learn(train_data) did not iterate over train_data")
            loss = meter.take()
            if loss is None:
                loss = _as_float(ret)
            if loss is not None and not math.isfinite(loss):
                raise Failure("nan_loss", "epoch %d: mean training loss is %s" % (epoch, loss))

            self.stage = "eval"
            model.eval()
            outs = []
            with torch.no_grad():
                for i in range(0, len(xte), batch):
                    o = model(tf(xte[i:i + batch], False, tgen))
                    if not isinstance(o, torch.Tensor) or o.dim() != 2 or o.shape[1] != classes:
                        raise Failure("shape", "forward on the test split returned %s, want (B, %d)"
                                      % (getattr(o, "shape", type(o).__name__), classes))
                    outs.append(o.detach().float().cpu())
            logits = torch.cat(outs)
            if not bool(torch.isfinite(logits).all()):
                raise Failure("nan_loss", "epoch %d: the model's outputs on the test split are not finite "
                              "(training diverged)" % epoch)
            t2 = time.perf_counter()
            pred = "pred-%d.npy" % epoch
            _save_npy(os.path.join(scratch, pred), logits.numpy())
            self.ch.emit("epoch", epoch=epoch, train_loss=loss, train_seconds=t1 - t0, eval_seconds=t2 - t1,
                         samples=samples, batches=batches,
                         samples_per_sec=(samples / (t1 - t0)) if t1 > t0 else 0.0, pred=pred)
            if epoch < epochs:
                self.stage = "wait"
                if self.ctl.next() != "continue":
                    self.ch.emit("done", stopped=True, epochs=epoch)
                    return
        self.ch.emit("done", stopped=False, epochs=epochs)

    def _contract(self, mod, src):
        import torch

        sp = self.spec
        f = getattr(mod, "supported_hyperparameters", None)
        if not callable(f):
            raise Failure("contract", "no module-level function supported_hyperparameters()")
        sup = f()
        if isinstance(sup, dict):
            sup = list(sup)
        if not isinstance(sup, (set, frozenset, list, tuple)) or not all(isinstance(k, str) for k in sup):
            raise Failure("contract", "supported_hyperparameters() returned %r, want a set of names" % (sup,))
        sup = set(sup)
        net = getattr(mod, "Net", None)
        if not isinstance(net, type) or not issubclass(net, torch.nn.Module):
            raise Failure("contract", "no class Net(nn.Module) at module level")
        for meth, args in (("__init__", ("in_shape", "out_shape", "prm", "device")), ("train_setup", ("prm",)),
                           ("learn", ("train_data",)), ("forward", ("x",))):
            fn = getattr(net, meth, None)
            if fn is None or (meth != "__init__" and fn is getattr(torch.nn.Module, meth, None)):
                raise Failure("contract", "Net has no method %s(self, %s)" % (meth, ", ".join(args)))
            try:
                inspect.signature(fn).bind(None, *args)
            except TypeError as e:
                raise Failure("contract", "Net.%s cannot be called as %s(self, %s): %s" % (meth, meth, ", ".join(args), e))
            except ValueError:
                pass
        given = dict(sp.get("prm") or {})
        defaults = dict(sp.get("default_prm") or {})
        prm = dict(given)
        missing = []
        for k in sorted(sup):
            if k not in prm:
                if k in defaults:
                    prm[k] = defaults[k]
                else:
                    missing.append(k)
        if missing:
            raise Failure("prm", "supported_hyperparameters() needs %s with no value given (pass them in --prm)"
                          % ", ".join(missing))
        # NNGPT's rule: every supported key must be read somewhere in the code.
        unused = sorted(k for k in sup if ("'%s'" % k) not in src and ('"%s"' % k) not in src)
        return prm, sup, unused

    def _hook_criteria(self, model, meter):
        import torch

        crit = getattr(model, "criteria", None)
        if crit is None:
            raise Failure("contract", "train_setup(prm) did not set self.criteria")
        seq = crit if isinstance(crit, (tuple, list)) else (crit,)
        if not seq:
            raise Failure("contract", "self.criteria is empty")
        first = seq[0]
        if isinstance(first, torch.nn.Module):
            first.register_forward_hook(lambda _m, _i, out: meter.add(out))
        elif callable(first):
            def wrapped(*a, **k):
                out = first(*a, **k)
                meter.add(out)
                return out

            seq = (wrapped,) + tuple(seq[1:])
            model.criteria = seq if isinstance(crit, (tuple, list)) else wrapped
        else:
            raise Failure("contract", "self.criteria[0] is %s, not callable" % type(first).__name__)


def held_elements(model, mod, limit=2_000_000):
    """Elements of every distinct tensor storage reachable from the model
    object and the model module's globals (through containers, closures
    and the model's own classes; not through other modules or foreign
    classes), visiting at most limit objects."""
    import gc
    import types

    import torch

    seen, storages = set(), {}
    stack = [model] + list(vars(mod).values())
    visited = 0
    while stack and visited < limit:
        o = stack.pop()
        if id(o) in seen:
            continue
        seen.add(id(o))
        visited += 1
        if isinstance(o, torch.Tensor):
            try:
                st = o.storage()
                key = (st.device.type, st.data_ptr())
                storages[key] = max(storages.get(key, 0), st.size())
            except Exception:
                storages[("id", id(o))] = o.numel()
            continue
        if type(o).__name__ == "ndarray" and hasattr(o, "size"):
            base = o
            while getattr(base, "base", None) is not None and type(base.base).__name__ == "ndarray":
                base = base.base
            storages[("np", id(base))] = int(base.size)
            continue
        if isinstance(o, (types.ModuleType, str, bytes, int, float, bool)) or o is None:
            continue
        if isinstance(o, type) and getattr(o, "__module__", None) != mod.__name__:
            continue
        if isinstance(o, types.BuiltinFunctionType):
            continue
        if isinstance(o, (types.FunctionType, types.MethodType)) and \
                getattr(o, "__module__", None) not in (mod.__name__, None):
            continue
        if isinstance(o, dict) and o is not vars(mod) and any(v is torch for v in o.values()):
            continue  # some module's globals
        stack.extend(gc.get_referents(o))
    return int(sum(storages.values()))


def _exec_module(code, path, name):
    modname = "nngpt_model"
    spec = importlib.util.spec_from_file_location(modname, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[modname] = mod
    exec(code, mod.__dict__)
    return mod


def _as_float(v):
    try:
        import torch

        if isinstance(v, torch.Tensor) and v.numel() == 1:
            return float(v)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return float(v)
    except Exception:
        pass
    return None


def _save_npy(path, arr):
    import numpy as np

    tmp = path + ".tmp"
    with open(tmp, "wb") as fh:
        np.save(fh, np.ascontiguousarray(arr, dtype="<f4"))
    os.replace(tmp, path)
