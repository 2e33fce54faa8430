package finetune

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/nngpt/nngpt/store"
)

// Hook is NNGPT's fine-tuning step in the closed loop (loop.Hook): after
// each cycle it exports the pairs and runs the command; the model the
// command's last line names generates from the next cycle on, also after a
// resume (the latest step's record is found before the first cycle).
type Hook struct {
	Corpus store.Corpus
	// Config is the step's configuration for a loop (its folder, export
	// options, command).
	Config func(l store.Loop) Config
	// Model is the model generating now.
	Model string
	// Use switches generation to model from the given cycle on; nil: no
	// generator to switch (evolve), the data are exported all the same.
	Use func(model string, fromCycle int) error
	// Notify tells the user what a step did (nil: the log).
	Notify func(msg string)

	resumed bool
}

// BeforeCycle picks up the model of the loop's latest step, once.
func (h *Hook) BeforeCycle(ctx context.Context, l store.Loop, cycle int) error {
	if h.resumed {
		return nil
	}
	h.resumed = true
	last, ok, err := Latest(h.Config(l).Dir)
	if err != nil || !ok {
		return err
	}
	return h.use(last.Model, last.Cycle+1)
}

// AfterCycle runs the fine-tuning step of the finished cycle.
func (h *Hook) AfterCycle(ctx context.Context, l store.Loop, cycle int) error {
	res, err := Step(ctx, h.Corpus, h.Config(l), cycle, h.Model)
	if err != nil {
		return err
	}
	h.notify(fmt.Sprintf("fine-tuning set of cycle %d: %s (%d pairs)", cycle, res.Data, res.Stats.Pairs))
	return h.use(res.Model, cycle+1)
}

func (h *Hook) use(model string, from int) error {
	if model == "" || model == h.Model || h.Use == nil {
		return nil
	}
	if err := h.Use(model, from); err != nil {
		return err
	}
	h.Model = model
	return nil
}

func (h *Hook) notify(msg string) {
	if h.Notify != nil {
		h.Notify(msg)
		return
	}
	slog.Info(msg)
}
