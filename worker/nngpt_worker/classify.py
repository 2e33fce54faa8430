"""Maps an exception raised by model code to a failure kind."""

import errno
import traceback

# Default kind per stage when the exception says nothing more specific.
STAGE_KIND = {
    "parse": "syntax",
    "contract": "import",
    "build": "build",
    "forward": "forward",
    "params": "build",
    "train": "train",
    "eval": "eval",
    "probe": "probe",
}

TAIL_LINES = 40


def kind_of(exc, stage):
    if isinstance(exc, (SystemExit, KeyboardInterrupt)):
        return "exited"
    if isinstance(exc, MemoryError):
        return "memory"
    if isinstance(exc, RuntimeError):
        msg = str(exc)
        if ("can't allocate memory" in msg or "out of memory" in msg
                or "DefaultCPUAllocator" in msg or "std::bad_alloc" in msg):
            return "memory"
        if "can't start new thread" in msg:
            return "processes"
    if isinstance(exc, BlockingIOError) and exc.errno == errno.EAGAIN:
        return "processes"
    if isinstance(exc, OSError):
        # Model code has no business doing I/O: whatever it tried, the
        # sandbox refused it (no network, no files outside scratch).
        return "forbidden"
    if isinstance(exc, SyntaxError) and stage == "parse":
        return "syntax"
    return STAGE_KIND.get(stage, "crashed")


def tail(exc):
    lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
    text = "".join(lines).splitlines()
    return "\n".join(text[-TAIL_LINES:])


class Failure(Exception):
    """A failure the harness found itself (not an exception of model code)."""

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind
        self.message = message
