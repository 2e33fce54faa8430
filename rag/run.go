package rag

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// Outcome is what happened to one target.
type Outcome struct {
	Target         string      `json:"target"`
	Found          bool        `json:"found"`
	Error          string      `json:"error,omitempty"` // extraction error (not found, ambiguous, ...)
	Block          *Block      `json:"-"`
	Validation     *Validation `json:"validation,omitempty"`
	ExtractSeconds float64     `json:"extract_seconds"`
}

// Level is the validation level reached (-1 when not validated, 0 when
// the block was not extracted).
func (o Outcome) Level() int {
	switch {
	case o.Block == nil:
		return 0
	case o.Validation == nil:
		return -1
	}
	return o.Validation.Level
}

// Process extracts every target and, with a validator, validates it up to
// level, jobs at a time (validation is the slow part). done, when set, is
// called after each target, from one goroutine at a time.
func Process(ctx context.Context, idx *Index, targets []string, v Validator, level, jobs int, done func(Outcome)) ([]Outcome, error) {
	if jobs < 1 {
		jobs = 1
	}
	out := make([]Outcome, len(targets))
	var mu sync.Mutex
	var firstErr error
	sem := make(chan struct{}, jobs)
	var wg sync.WaitGroup
	for i, t := range targets {
		if ctx.Err() != nil {
			break
		}
		o := Outcome{Target: t}
		start := time.Now()
		b, err := idx.Extract(ctx, t)
		o.ExtractSeconds = time.Since(start).Seconds()
		if err != nil {
			o.Error = err.Error()
			o.Found = !errors.Is(err, ErrNotFound)
			out[i] = o
			if done != nil {
				mu.Lock()
				done(o)
				mu.Unlock()
			}
			continue
		}
		o.Found, o.Block = true, b
		sem <- struct{}{}
		wg.Add(1)
		go func(i int, o Outcome) {
			defer wg.Done()
			defer func() { <-sem }()
			if v != nil {
				val, err := v.Validate(ctx, o.Block, level)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				} else {
					o.Validation = &val
				}
			}
			mu.Lock()
			out[i] = o
			if done != nil {
				done(o)
			}
			mu.Unlock()
		}(i, o)
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return out, err
	}
	return out, firstErr
}

// ReadTargets reads a target list: one class per line, as Name or
// module.Name; blank lines and lines starting with # are skipped.
func ReadTargets(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("targets: %w", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.ContainsAny(line, " \t/\\") {
			return nil, fmt.Errorf("%s:%d: %q is not a class name: want Name or package.module.Name, one per line", path, n, line)
		}
		out = append(out, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("targets %s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("targets %s: no class names in it", path)
	}
	return out, nil
}
