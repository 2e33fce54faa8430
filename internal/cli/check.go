package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/nngpt/nngpt/app"
	"github.com/nngpt/nngpt/config"
	"github.com/nngpt/nngpt/corpus"
	"github.com/nngpt/nngpt/internal/text"
	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/runner"
	"github.com/nngpt/nngpt/store"
)

// Exit statuses of `nngpt check` beyond 0 (passed) and 1 (bad input or
// nngpt's own trouble).
const (
	exitModelFailed = 2 // the model failed a stage
	exitLowAccuracy = 3 // it trained but did not beat 1.2 x chance
)

type checkOpts struct {
	prm, tf, name                 string
	threads                       int
	nTrain, nTest, size           int
	memoryMB                      int64
	epochTimeout                  time.Duration
	asJSON, record, keep, verbose bool
}

func newCheckCmd(g *globals) *cobra.Command {
	o := &checkOpts{}
	cmd := &cobra.Command{
		Use:   "check MODEL.py",
		Short: "Check, train and evaluate one LEMUR-contract model in the sandbox",
		Long: `Run one model file through the sandboxed PyTorch worker: parse, contract
(Net(in_shape, out_shape, prm, device) with train_setup, learn, forward, and a
module-level supported_hyperparameters()), build, one forward batch (output
must be (B, classes)), parameter count, then the epochs. Accuracy is computed
by nngpt from the model's test predictions; the labels never enter the
sandbox.

Exit status: 0 when the model trained and its best accuracy beat the admission
bar (admit x chance; LEMUR's rule is 1.2), 2 when it failed a stage (the kind
says why: syntax, contract, shape, nan_loss, timeout, memory, ...), 3 when it
trained but stayed at or below the bar, 1 for bad input or trouble of nngpt's
own.

--record stores the run in the workspace: the code in LEMUR's nn table, one
stat row per finished epoch (accuracy, cumulative duration in ns, the uid of
the hyperparameters) and nngpt's run record (stage, failure kind, log tail,
torch version, device, seed, dataset ids). The model's name is the file
stem, which must not contain '_' (LEMUR's rule); --name overrides it.`,
		Example: `  nngpt check models/SimpleCNN.py
  nngpt check AlexNet.py --epochs 2 --prm '{"lr": 0.02, "momentum": 0.9, "dropout": 0.3}' --record
  nngpt check Net.py --dataset cifar-10 --data-dir ~/data --device cuda --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCheck(cmd, g, o, args[0])
		},
	}
	f := cmd.Flags()
	d := config.Default()
	f.String("dataset", d.Dataset, "dataset: "+strings.Join(lemur.TrainableDatasets(), ", "))
	f.Int("epochs", d.Epochs, "epochs to train")
	f.StringVar(&o.prm, "prm", "", `hyperparameters as a JSON object, e.g. '{"lr": 0.01, "momentum": 0.9}' (missing supported keys default to lr 0.01, momentum 0.9, dropout 0.2)`)
	f.Int("batch", d.Batch, "batch size (LEMUR: a power of two)")
	f.StringVar(&o.tf, "transform", "norm", "LEMUR transform: echo|norm|complex, optional _32.._512, optional _flip")
	f.Int64("seed", 0, "seed of torch, the shuffle and the augmentation")
	f.IntVar(&o.threads, "threads", 0, "torch threads (default: every core)")
	f.Int64("max-params", d.MaxParams, "largest parameter count accepted (<0: no limit)")
	f.Int64Var(&o.memoryMB, "memory", runner.DefaultLimits.Memory>>20, "address-space limit of the worker in MiB (not applied on CUDA)")
	f.DurationVar(&o.epochTimeout, "epoch-timeout", runner.DefaultLimits.EpochTimeout, "wall-clock limit of one epoch")
	f.IntVar(&o.nTrain, "n-train", 0, "training images (shapes default 5000; real datasets: a seeded subset, default all)")
	f.IntVar(&o.nTest, "n-test", 0, "test images (shapes default 1000; real datasets: a seeded subset, default all)")
	f.IntVar(&o.size, "size", 0, "shapes: image size (default 32)")
	f.StringVar(&o.name, "name", "", "model name (default: the file stem)")
	f.BoolVar(&o.asJSON, "json", false, "print the result as one JSON object")
	f.BoolVar(&o.record, "record", false, "store the result in the workspace")
	f.BoolVar(&o.keep, "keep-scratch", false, "keep the scratch folder (predictions, model copy) and print its path")
	f.BoolVar(&o.verbose, "log", false, "print the model's captured output (tail) even when it passed")
	addMachineFlags(cmd)
	return cmd
}

// checkReport is what --json prints.
type checkReport struct {
	Model     string          `json:"model"`
	Passed    bool            `json:"passed"`
	Reason    string          `json:"reason,omitempty"`
	Chance    float64         `json:"chance"`
	Threshold float64         `json:"threshold"`
	Best      float64         `json:"best_accuracy"`
	Prm       json.RawMessage `json:"prm"`
	WallSec   float64         `json:"wall_seconds"`
	Result    *runner.Result  `json:"result"`
	Events    []runner.Event  `json:"events"`
	Recorded  bool            `json:"recorded"`
}

func runCheck(cmd *cobra.Command, g *globals, o *checkOpts, file string) error {
	ctx := cmd.Context()
	t0 := time.Now()
	cfg, err := loadConfig(g, cmd)
	if err != nil {
		return err
	}
	code, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("model file: %w", err)
	}
	name := o.name
	if name == "" {
		name = strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	}
	if o.record && strings.Contains(name, "_") {
		return fmt.Errorf("model name %q contains '_', which LEMUR forbids in names: rename the file or pass --name", name)
	}
	var prm lemur.Dict
	if o.prm != "" {
		v, err := lemur.DecodeJSON([]byte(o.prm))
		if err != nil {
			return fmt.Errorf("--prm: %v (want a JSON object such as '{\"lr\": 0.01, \"momentum\": 0.9}')", err)
		}
		d, ok := v.(lemur.Dict)
		if !ok {
			return fmt.Errorf("--prm: want a JSON object such as '{\"lr\": 0.01, \"momentum\": 0.9}'")
		}
		for _, it := range d {
			if _, ok := lemur.AsFloat(it.Value); !ok {
				return fmt.Errorf("--prm: %s = %s is not a number", it.Key, lemur.Repr(it.Value))
			}
		}
		prm = d
	}
	// Open the workspace first so a bad workspace fails before minutes of training.
	var st store.Store
	if o.record {
		ws, err := g.openWorkspace(ctx)
		if err != nil {
			return err
		}
		defer ws.Close()
		st = ws.Store
	}
	w, err := app.NewWorker(ctx, cfg, g.stderr)
	if err != nil {
		return err
	}
	spec := runner.DatasetSpec{Name: cfg.Dataset, NTrain: o.nTrain, NTest: o.nTest, Size: o.size,
		DataDir: cfg.Data.Dir, Download: cfg.Data.Download}
	data, err := w.Dataset(ctx, spec)
	if err != nil {
		return err
	}
	ex, err := w.Executor(ctx, app.ExecOptions{Slots: 1, Threads: o.threads,
		Limits: runner.Limits{Memory: o.memoryMB << 20, EpochTimeout: o.epochTimeout}})
	if err != nil {
		return err
	}
	job := runner.Job{Name: name, Code: string(code), Data: data, Prm: prm, Batch: cfg.Batch, Transform: o.tf,
		Epochs: cfg.Epochs, Device: w.Device, Seed: cfg.Seed, MaxParams: cfg.MaxParams, KeepScratch: o.keep}
	run, err := ex.Submit(ctx, job)
	if err != nil {
		return err
	}
	out := g.stdout
	if !o.asJSON {
		fmt.Fprintf(out, "check %s on %s (%d train / %d test, %d classes), %d epoch(s), batch %d, %s, %s, sandbox %s\n",
			name, data.Name, data.NTrain, data.NTest, data.Classes, cfg.Epochs, cfg.Batch, o.tf, w.Device, w.Sandbox.Isolation)
	}
	var events []runner.Event
	for ev := range run.Events() {
		events = append(events, ev)
		if !o.asJSON {
			printCheckEvent(out, ev)
		}
	}
	res, err := run.Wait(ctx)
	if err != nil {
		return err
	}
	rep := checkReport{Model: name, Chance: data.Chance(), Threshold: cfg.Admit * data.Chance(), Best: res.Best(),
		WallSec: time.Since(t0).Seconds(), Result: res, Events: events}
	if p, err := lemur.EncodeJSON(res.Prm, 0, false); err == nil && res.Prm != nil {
		rep.Prm = p
	} else {
		rep.Prm = json.RawMessage("{}")
	}
	var exit *ExitError
	switch {
	case res.Failure != nil:
		rep.Reason = res.Failure.Error()
		exit = &ExitError{Code: exitModelFailed}
	case res.Best() <= rep.Threshold:
		rep.Reason = fmt.Sprintf("best accuracy %.4f does not beat %g x chance = %.4f", res.Best(), cfg.Admit, rep.Threshold)
		exit = &ExitError{Code: exitLowAccuracy}
	default:
		rep.Passed = true
	}
	if o.record {
		if err := corpus.Record(ctx, st, "check", string(code), data.Pipeline(name), res); err != nil {
			return err
		}
		rep.Recorded = true
	}
	if o.asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printCheckSummary(out, &rep, o.verbose)
	}
	if exit != nil {
		if !o.asJSON {
			exit.Err = errors.New(rep.Reason)
		}
		return exit
	}
	return nil
}

func printCheckEvent(w io.Writer, ev runner.Event) {
	switch ev.Type {
	case runner.EventStage:
		fmt.Fprintf(w, "  %-9s ok  %s\n", ev.Stage, ev.Detail)
	case runner.EventEpoch:
		e := ev.Epoch
		loss := "n/a"
		if e.TrainLoss != nil {
			loss = fmt.Sprintf("%.4f", *e.TrainLoss)
		}
		fmt.Fprintf(w, "  epoch %-3d acc %.4f  loss %s  train %.1fs  eval %.1fs  %.0f samples/s  (duration %.1fs)\n",
			e.Epoch, e.Accuracy, loss, e.TrainSeconds, e.EvalSeconds, e.SamplesPerSec, float64(e.Duration)/1e9)
	case runner.EventFailed:
		fmt.Fprintf(w, "  %-9s FAILED  %s: %s\n", ev.Failure.Stage, ev.Failure.Kind, ev.Failure.Message)
	}
}

func printCheckSummary(w io.Writer, rep *checkReport, verbose bool) {
	res := rep.Result
	if res.Failure != nil && res.Failure.Traceback != "" {
		fmt.Fprintf(w, "traceback (tail):\n%s\n", indentLines(res.Failure.Traceback, "  "))
	}
	if (res.Failure != nil || verbose) && strings.TrimSpace(res.LogTail) != "" {
		fmt.Fprintf(w, "model output (%d bytes, tail):\n%s\n", res.LogBytes, indentLines(text.LastLines(res.LogTail, 20), "  "))
	}
	status := "PASSED"
	if !rep.Passed {
		status = "FAILED"
	}
	fmt.Fprintf(w, "%s  best acc %.4f (chance %.4f, needs > %.4f)  params %d  startup %.1fs  total %.1fs\n",
		status, rep.Best, rep.Chance, rep.Threshold, res.Params, res.StartupSec, rep.WallSec)
	if len(res.Unused) > 0 {
		fmt.Fprintf(w, "warning: supported_hyperparameters() names %s but the code never reads them (NNGPT rejects such models)\n", strings.Join(res.Unused, ", "))
	}
	if res.Scratch != "" {
		fmt.Fprintf(w, "scratch kept at %s\n", res.Scratch)
	}
	if rep.Recorded {
		fmt.Fprintf(w, "recorded run %s\n", res.RunID)
	}
}

func indentLines(s, pre string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := range lines {
		lines[i] = pre + lines[i]
	}
	return strings.Join(lines, "\n")
}
