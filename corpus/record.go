package corpus

import (
	"context"
	"fmt"

	"github.com/nngpt/nngpt/internal/text"
	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/runner"
	"github.com/nngpt/nngpt/store"
)

// Record stores a finished run: when the model trained (no failure, at
// least one epoch) on a full dataset, its code in LEMUR's nn table under
// p.NN and one stat row per finished epoch; in every case the run record.
// Runs on a subset of a real dataset stay out of LEMUR's stat rows: those
// are the references prompts, predictors and HPO learn from, and a subset's
// accuracy is not the dataset's (the run record keeps it, marked).
// origin says what started the run (check, loop, hpo, ...).
func Record(ctx context.Context, st store.Store, origin, code string, p lemur.Pipeline, res *runner.Result) error {
	if res.Failure == nil && len(res.Epochs) > 0 && !res.Data.Subset {
		if _, err := st.PutCode(ctx, store.Code{Kind: store.KindNN, Name: p.NN, Code: code, ID: lemur.CodeID(code)}); err != nil {
			return fmt.Errorf("record code of %s: %w", p.NN, err)
		}
		if _, err := st.AddStats(ctx, res.Records(p)); err != nil {
			return fmt.Errorf("record stats of %s: %w", p.NN, err)
		}
	}
	if err := st.PutRun(ctx, RunRecord(res, origin, p)); err != nil {
		return fmt.Errorf("record run of %s: %w", p.NN, err)
	}
	return nil
}

// RunRecord is the store's run record of r under pipeline p.
func RunRecord(r *runner.Result, origin string, p lemur.Pipeline) store.Run {
	run := store.Run{
		ID: r.RunID, Origin: origin, NN: p.NN, CodeID: r.CodeID, Task: p.Task, Dataset: p.Dataset, Metric: p.Metric,
		Transform: r.Transform, Batch: r.Batch, EpochsRequested: r.EpochsWanted, Stage: string(r.Reached),
		Params: r.Params, Torch: r.Torch, Python: r.Python, Device: r.Device, Threads: r.Threads,
		Isolation: string(r.Isolation), Seed: r.Seed, DatasetID: r.DatasetID, SplitID: r.SplitID,
		BestAccuracy: r.Best(), StartedAt: r.Started, FinishedAt: r.Finished, LogTail: text.LastLines(r.LogTail, 60),
		TrainSize: r.Data.NTrain, TestSize: r.Data.NTest, DataSubset: r.Data.Subset, DataSeed: r.Data.Seed,
		SetupSeconds: r.SetupSec, SetupMemory: r.SetupMemory, Tensors: r.Tensors,
	}
	if r.Prm != nil {
		run.Prm = r.RecordPrm()
		run.UID = lemur.UID(run.Prm)
	}
	switch {
	case r.Failure != nil && r.Failure.Kind == runner.FailCanceled:
		run.Status = "canceled"
	case r.Failure != nil:
		run.Status = "failed"
	case r.Stopped:
		run.Status = "stopped"
	default:
		run.Status = "ok"
	}
	if r.Failure != nil {
		run.FailureKind, run.FailureMessage = string(r.Failure.Kind), r.Failure.Message
		run.Stage = string(r.Failure.Stage)
		if r.Failure.Traceback != "" {
			run.LogTail = text.LastLines(r.LogTail, 30) + "\n--- traceback ---\n" + r.Failure.Traceback
		}
	}
	for _, e := range r.Epochs {
		run.Epochs = append(run.Epochs, store.RunEpoch{Epoch: e.Epoch, Accuracy: e.Accuracy, Duration: e.Duration,
			TrainLoss: e.TrainLoss, TrainSeconds: e.TrainSeconds, EvalSeconds: e.EvalSeconds, SamplesPerSec: e.SamplesPerSec, Seconds: e.Seconds})
	}
	return run
}
