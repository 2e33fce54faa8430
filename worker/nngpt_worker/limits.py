"""Resource limits the worker puts on itself before any model code runs.

The harness is trusted until it loads the model, so limits set here hold for
the model and every process it forks; without privileges (the sandbox drops
every capability) they cannot be raised again.
"""

import resource

_NAMES = {
    "memory": "RLIMIT_AS",
    "cpu_seconds": "RLIMIT_CPU",
    "nproc": "RLIMIT_NPROC",
    "nofile": "RLIMIT_NOFILE",
    "fsize": "RLIMIT_FSIZE",
}


def apply(limits):
    applied = {}
    for key, name in _NAMES.items():
        v = (limits or {}).get(key)
        if not v or v <= 0:
            continue
        r = getattr(resource, name)
        soft, hard = resource.getrlimit(r)
        v = int(v)
        if hard != resource.RLIM_INFINITY:
            v = min(v, hard)
        # CPU: the soft limit sends SIGXCPU, the hard one SIGKILL a little later.
        new_hard = v + 5 if key == "cpu_seconds" and (hard == resource.RLIM_INFINITY or v + 5 <= hard) else v
        resource.setrlimit(r, (v, new_hard))
        applied[key] = v
    # No core files: a segfaulting model must not fill the scratch folder.
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return applied
