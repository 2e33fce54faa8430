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
