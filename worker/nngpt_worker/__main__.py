"""Entry point: ``python3 -m nngpt_worker`` (event descriptor on fd 3)."""

import faulthandler
import os
import sys


def main():
    from . import limits, proto

    try:
        fd = proto.take_event_fd(3)
    except OSError:
        sys.stderr.write("nngpt_worker: no event descriptor on fd 3; the coordinator starts this module\n")
        return 2
    # A segfault in model code prints the Python stack to the captured log.
    faulthandler.enable(file=sys.stderr)
    spec = proto.read_spec()
    ch = proto.Channel(fd, spec.get("nonce", ""))
    try:
        limits.apply(spec.get("limits"))
    except (ValueError, OSError) as e:
        ch.emit("error", stage="start", kind="internal", message="setting resource limits: %s" % e, traceback="")
        return 0
    kind = spec.get("kind", "train")
    sys.argv = [sys.argv[0]]
    if kind == "train":
        from . import train

        train.run(spec, ch, proto.Control(sys.stdin.buffer))
    elif kind == "probe":
        from . import probe

        probe.run(spec, ch)
    elif kind == "blockprobe": from . import blockprobe; blockprobe.run(spec, ch)  # NN-RAG (rag, runner/blockprobe.go)
    elif kind == "prepare":
        from . import prepare

        try:
            prepare.run(spec, ch)
        except prepare.DataError as e:
            ch.emit("error", stage="prepare", kind="data", message=str(e), traceback="")
    else:
        ch.emit("error", stage="start", kind="internal", message="unknown job kind %r" % kind, traceback="")
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter teardown: model code may have left threads or
    # finalisers behind, and the job's outcome is already reported.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
