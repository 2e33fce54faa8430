"""The event channel to the coordinator.

Threat model (see runner/doc.go for the whole story): model code runs in this
very process, so nothing here can stop a determined model from finding the
event descriptor or the nonce in memory. What this module does is make the
cheap attacks fail loudly: the event descriptor is moved off the well-known
fd 3 to a random high number with close-on-exec (so subprocesses never
inherit it), every event carries the job's nonce and a sequence number (a
line written blindly to every descriptor is rejected by the coordinator as
tampering), and forked children never emit (their events would repeat a
sequence number). The property that matters does not depend on any of this:
the test labels never enter the sandbox, and the coordinator computes the
accuracy itself from the predictions file.
"""

import json
import os
import random
import sys


class Channel:
    def __init__(self, fd, nonce):
        self._fd = fd
        self._nonce = nonce
        self._seq = 0
        self._pid = os.getpid()

    def emit(self, typ, **fields):
        if os.getpid() != self._pid:
            # A forked child of model code must never speak for the job.
            os._exit(0)
        self._seq += 1
        ev = {"t": typ, "seq": self._seq, "nonce": self._nonce}
        ev.update(fields)
        data = (json.dumps(ev, separators=(",", ":"), default=_jsonable) + "\n").encode()
        while data:
            n = os.write(self._fd, data)
            data = data[n:]

    def close(self):
        try:
            os.close(self._fd)
        except OSError:
            pass


def _jsonable(x):
    try:
        return float(x)
    except Exception:
        return str(x)


def take_event_fd(fd=3):
    """Moves the inherited event descriptor to a random high number with
    close-on-exec and closes every other inherited descriptor above 2."""
    import fcntl

    try:
        soft, _ = __import__("resource").getrlimit(__import__("resource").RLIMIT_NOFILE)
    except Exception:
        soft = 1024
    hi = max(64, min(soft, 4096) - 1)
    target = random.SystemRandom().randint(hi // 2, hi)
    new = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, target)
    os.close(fd)
    os.closerange(3, new)
    os.closerange(new + 1, max(new + 2, soft if soft < 65536 else 65536))
    return new


class Control:
    """Reads the coordinator's decisions (one word per line) from stdin."""

    def __init__(self, stream):
        self._s = stream

    def next(self):
        line = self._s.readline()
        if not line:
            return "stop"
        return line.decode("utf-8", "replace").strip() or "stop"


def read_spec():
    line = sys.stdin.buffer.readline()
    if not line:
        raise SystemExit("nngpt_worker: no job spec on stdin")
    return json.loads(line)
