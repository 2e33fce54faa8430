"""nngpt's worker: the Python side of the PyTorch adapter.

The coordinator (the Go program) starts ``python3 -m nngpt_worker`` inside a
sandbox, writes one JSON job spec line on stdin and reads JSON events from a
file descriptor of the worker's own (never stdout: whatever model code prints
is only a log). Job kinds: ``train`` (check, build and train a LEMUR-contract
model), ``probe`` (execute a file as a module, optionally instantiate a class
and run a forward pass) and ``prepare`` (build a dataset cache).

The worker needs only python3, torch and (for downloads) torchvision.
"""

PROTOCOL = 1
