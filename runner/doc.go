// Package runner trains and probes model code in sandboxed Python workers.
// It is the only way the rest of nngpt runs generated code: the closed loop,
// HPO, the gate's dry runs and NN-RAG's probes all go through an Executor.
//
// # Using it
//
//	py, _ := runner.FindPython(ctx, runner.PythonOptions{})        // an interpreter that imports torch
//	ds, _ := runner.Datasets{CacheDir: dir}.Prepare(ctx, py, runner.DatasetSpec{Name: "shapes"})
//	ex, _ := runner.NewLocal(ctx, runner.LocalConfig{Python: py})
//	run, _ := ex.Submit(ctx, runner.Job{Name: "mynet", Code: src, Data: ds, Epochs: 2,
//	        Prm: lemur.Dict{{"lr", 0.01}, {"momentum", 0.9}}})
//	for ev := range run.Events() { ... }                           // stages, per-epoch accuracy
//	res, err := run.Wait(ctx)                                     // err: infrastructure; res.Failure: the model's fault
//	err = runner.Record(ctx, st, "check", src, ds.Pipeline("mynet"), res) // run record; stat rows unless a subset
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
// After the params stage a train worker reads one line from stdin, "go",
// once the coordinator has measured it; after every epoch but the last it
// reads "continue" or "stop" (end of input counts as stop). New job kinds
// add a branch in nngpt_worker/__main__.py and a driver here; the envelope
// stays.
//
// # Threat model
//
// A model file is hostile until proven otherwise. It runs inside the worker
// process, in the same Python interpreter as the harness, so it can do
// anything the harness can: read the job spec and the nonce from memory,
// use the harness's own event channel, read stdin, write files in scratch,
// fork, exit. Nothing the worker reports is therefore trusted unless the
// coordinator can check it, and the properties below do not rely on the
// harness being intact.
//
// # What is trusted, and why
//
//   - Accuracy. The test split's labels never enter a sandbox (they stay in
//     the cache's private/ folder, which is never bound, owned by the
//     coordinator's user and closed to others); the worker writes logits
//     to scratch and the coordinator scores them. The test split itself is
//     drawn with a secret that the coordinator passes to the preparing job
//     and keeps nowhere: shapes' test images are generated from it, and a
//     real dataset's test subset and its order are a permutation drawn from
//     it (the private labels follow that order). Nothing in public/, in the
//     cache's name or path (visible in /proc/self/mountinfo) or in
//     meta.json holds it, so importing the generator or knowing the public
//     seed does not rebuild the split, and a published label list cannot be
//     replayed in order. What remains possible: a model can memorise a
//     public test set (CIFAR-10's images and labels are public) and look
//     each image up. The gate refuses the cheap form of that, large
//     literal tables in the code (literal_table); a model that derives the
//     labels from the images by any other means is, in effect, a
//     classifier.
//   - Duration. Every time recorded is the coordinator's clock on the
//     arrival of events. LEMUR's duration runs from the start event, which
//     the harness sends before any model code exists in the process, to the
//     epoch's predictions, less only the coordinator's own time between
//     epochs. Work hidden at import or in Net.__init__ therefore counts in
//     it, shows apart as Result.SetupSec and StageSeconds, and is bounded by
//     Limits.SetupTimeout (parse to params together) and StageTimeout.
//     Forged events cannot make an epoch shorter than the time the
//     coordinator saw pass. The worker's split of an epoch into training
//     and evaluation is capped at the coordinator's epoch time; its sample
//     count at the training set (one epoch); throughput is that count over
//     the coordinator's time. Training loss is reported, never trusted.
//   - Size. Result.Params (nn.Parameters) and Result.Tensors (every tensor
//     and array the model holds: buffers, plain tensor attributes, its
//     module's globals and closures) are counted by the harness, and the
//     limit applies to both; model code can fake them. The check the model
//     cannot influence is the resident memory of the worker's process tree,
//     read by the coordinator in /proc when the start event arrives and
//     again at the params event, while the worker waits for "go": the
//     growth (Result.SetupMemory) may not exceed Limits.SetupMemory (by
//     default 512 MiB plus 8 bytes per allowed parameter). Weights hidden
//     from the count still take memory; RLIMIT_AS bounds all of it. On
//     CUDA, memory on the GPU is not in that measure (nor under RLIMIT_AS,
//     which the driver's mappings rule out): there the count and the
//     deadlines are what bounds a model's size.
//   - The data. Result.Data names what the model trained and was scored on
//     (sizes, whether it is a subset of a real dataset, the seed that drew
//     the training part, the split id); Record keeps subset runs out of
//     LEMUR's stat rows. A batch larger than the training set is clamped
//     to it (the largest power of two that fits) before the run.
//   - The protocol. Events travel on a descriptor of their own (never
//     stdout), moved by the harness to a random high number with
//     close-on-exec; each carries the job's random nonce and a sequence
//     number; the coordinator checks both and the order of stages. Blind
//     forgeries (printing event lines, writing to every inherited
//     descriptor, events from forked children) fail the run as "tampered".
//     A model that uses the harness's channel can forge well-formed events,
//     which is why none of the numbers above is taken from them.
//   - The host. With bubblewrap the worker sees a read-only system (/usr and
//     a few files of /etc), the read-only worker code and dataset, one
//     fresh writable scratch folder, a read-only root and /dev, and sized
//     tmpfs for /tmp and /dev/shm (Limits.TmpSize); no network, no home, no
//     workspace, a private PID namespace (the whole tree dies with the
//     worker), every capability dropped, and a seccomp filter (see
//     seccomp.go) that refuses ptrace, process_vm_*, keyctl, bpf,
//     perf_event_open, userfaultfd, io_uring, mount and namespace calls,
//     module loading and other ABIs. A coordinator running as root starts
//     it as nobody (65534). Resource limits (address space, CPU time,
//     processes, open files, file size) are set by the harness before any
//     model code runs and cannot be raised again without privileges; the
//     scratch folder's total is checked from outside every 250 ms
//     (Limits.Scratch, kind "disk"). Wall-clock deadlines and a cap on
//     stdout+stderr are enforced from outside. Scratch folders carry their
//     coordinator's pid and start time, and a coordinator sweeps those of
//     dead ones at start-up.
//   - Text. Log tails, failure messages and tracebacks are passed through
//     termsafe.Clean: nothing a model prints can move the cursor or repaint
//     a terminal.
//
// Without bubblewrap (Sandbox "none", or "auto" where it cannot run), only
// the resource limits, deadlines, output cap and scratch quota remain: the
// model can reach the network and read whatever the worker's uid can read.
// Under a root coordinator that uid is nobody, which cannot read the
// private labels or change the cache; under any other user it is the
// coordinator's own, which can. nngpt says so loudly; do not run untrusted
// code that way.
package runner
