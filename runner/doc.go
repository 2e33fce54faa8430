// Package runner trains and probes model code in sandboxed Python workers.
// It is the only way the rest of nngpt runs generated code: the closed loop,
// HPO, the gate's dry runs and NN-RAG's probes all go through an Executor.
//
// # Using it
//
//	py, _ := runner.FindPython(ctx, runner.PythonOptions{})        // an interpreter that imports torch
//	ds, _ := runner.Datasets{CacheDir: dir}.Prepare(ctx, py, runner.DatasetSpec{Name: "shapes"})
//	ex, _ := runner.NewLocal(runner.LocalConfig{Python: py})
//	run, _ := ex.Submit(ctx, runner.Job{Name: "mynet", Code: src, Data: ds, Epochs: 2,
//	        Prm: lemur.Dict{{"lr", 0.01}, {"momentum", 0.9}}})
//	for ev := range run.Events() { ... }                           // stages, per-epoch accuracy
//	res, err := run.Wait(ctx)                                     // err: infrastructure; res.Failure: the model's fault
//	recs := res.Records(runner.Pipeline(ds, "mynet"))             // LEMUR stat rows
//
// Early stopping: set Job.OnEpoch; it runs in the coordinator after every
// epoch but the last, with the accuracy the coordinator computed, and its
// Decision (Continue or Stop) reaches the worker before the next epoch
// begins. Run.Stop asks for the same from outside, asynchronously.
//
// # Worker protocol
//
// The coordinator starts `python3 -B -m nngpt_worker` (the package is
// embedded in the binary, see package worker) with the event pipe as fd 3,
// stdin as a pipe, stdout and stderr into one capped log. It writes one JSON
// job spec line on stdin: {"kind": "train"|"probe"|"prepare", "nonce": ...,
// "limits": {...}, ...kind-specific fields}. The worker answers with JSON
// lines on its event descriptor, each {"t": type, "seq": n, "nonce": ...}:
//
//	stage  {"stage": "start"|"parse"|"contract"|"build"|"forward"|"params", ...details}
//	epoch  {"epoch": n, "train_loss", "train_seconds", "eval_seconds", "samples", "samples_per_sec", "pred": "pred-n.npy"}
//	done   {"stopped": bool} (train), {"meta": ...} (prepare), {"level", "forward", ...} (probe)
//	error  {"stage", "kind", "message", "traceback"}
//
// After every epoch but the last, a train worker reads one line from stdin:
// "continue" or "stop" (end of input counts as stop). New job kinds add a
// branch in nngpt_worker/__main__.py and a driver here; the envelope stays.
//
// # Threat model
//
// A model file is hostile until proven otherwise. It runs inside the worker
// process, in the same Python interpreter as the harness, so it can do
// anything the harness can: read the job spec and the nonce from memory,
// find the event descriptor, write anything to it, fork, exit. The design
// therefore does not rely on the harness being intact for the properties
// that matter:
//
//   - The score: the test split enters the sandbox without labels (they stay
//     in the dataset cache's private/ folder, which is never bound), the
//     worker writes logits to its scratch folder, and the coordinator
//     computes the accuracy. Nothing inside the worker can raise its own
//     score above what its predictions earn. The timing of an epoch
//     (LEMUR's duration) is measured by the coordinator too.
//   - The host: with bubblewrap the worker sees a read-only system (/usr and
//     a few files of /etc), the read-only worker code and dataset, and one
//     fresh writable scratch folder; no network, no home, no workspace, a
//     private PID namespace (the whole tree dies with the worker), every
//     capability dropped; a coordinator running as root starts it as
//     nobody (65534). Resource limits (address space, CPU time, processes,
//     open files, file size) are set by the harness before any model code
//     runs and cannot be raised again without privileges. Wall-clock
//     deadlines per stage and per epoch, and a cap on stdout+stderr, are
//     enforced from outside.
//   - The protocol: events travel on a descriptor of their own (never
//     stdout), moved by the harness to a random high number with
//     close-on-exec; each carries the job's random nonce and a sequence
//     number; the coordinator checks both and the order of stages. Blind
//     forgeries (printing event lines, writing to every inherited
//     descriptor, events from forked children) are detected and the run
//     fails with kind "tampered". A model that reads the nonce out of
//     memory can forge well-formed events, but only about stages, losses
//     and throughput, never about accuracy or duration.
//
// Without bubblewrap (Sandbox "none", or "auto" where it cannot run), only
// the resource limits, deadlines and output cap remain: the model can read
// whatever the worker's uid can read, including the private labels, and
// reach the network. nngpt says so loudly; do not run untrusted code that
// way.
package runner
