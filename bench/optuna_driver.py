# Drives Optuna for `nngpt bench tpe --optuna`. The objective stays in Go:
# this process only asks and tells, so both engines see the very same
# function. Protocol (one JSON object per line):
#   in : {"study": {"space": [...], "multivariate": bool, "seed": int, "trials": int}}
#   out: {"trial": n, "params": {...}, "ask_ms": float}   (per trial)
#   in : {"value": float}
#   out: {"done": true}                                    (after the last)
#   in : EOF ends the process.
import json
import sys
import time
import warnings

import optuna

optuna.logging.set_verbosity(optuna.logging.ERROR)
warnings.simplefilter("ignore")


def distributions(space):
    out = {}
    for p in space:
        kind = p["kind"]
        if kind == "categorical":
            out[p["name"]] = optuna.distributions.CategoricalDistribution(p["choices"])
        elif kind == "float":
            out[p["name"]] = optuna.distributions.FloatDistribution(p["low"], p["high"], log=p.get("log", False))
        elif kind == "int":
            out[p["name"]] = optuna.distributions.IntDistribution(int(p["low"]), int(p["high"]), log=p.get("log", False))
        else:
            raise ValueError("unknown parameter kind %r" % kind)
    return out


def run(spec):
    sampler = optuna.samplers.TPESampler(seed=spec["seed"], multivariate=spec["multivariate"])
    study = optuna.create_study(sampler=sampler, direction="minimize")
    dists = distributions(spec["space"])
    for n in range(spec["trials"]):
        t0 = time.perf_counter()
        trial = study.ask(dists)
        ask_ms = (time.perf_counter() - t0) * 1e3
        sys.stdout.write(json.dumps({"trial": n, "params": trial.params, "ask_ms": ask_ms}) + "\n")
        sys.stdout.flush()
        line = sys.stdin.readline()
        if not line:
            return False
        study.tell(trial, float(json.loads(line)["value"]))
    sys.stdout.write(json.dumps({"done": True}) + "\n")
    sys.stdout.flush()
    return True


def main():
    sys.stdout.write(json.dumps({"ready": optuna.__version__}) + "\n")
    sys.stdout.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        if not run(json.loads(line)["study"]):
            return


if __name__ == "__main__":
    main()
