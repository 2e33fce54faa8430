// Package corpus moves LEMUR trees in and out of the store: import from a
// checkout, a stat folder or an archive, and export as a LEMUR tree.
package corpus

import (
	"context"
	"fmt"
	"log/slog"
	"sort"

	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/store"
)

// ImportOptions tune Import.
type ImportOptions struct {
	// Strict stops at the first problem and writes nothing.
	Strict bool
	// Workers parse files in parallel (0: one per CPU).
	Workers int
	// BatchRecords is how many records go to the store at a time (0: 20000).
	BatchRecords int
	// Progress, when set, is called after each batch.
	Progress func(files, records int)
	// ReplaceCode lets the tree's code replace a stored model's (or
	// transform's, metric's) code of the same name. Without it such a file
	// is skipped as code_conflict: the stored stats were measured with the
	// stored code.
	ReplaceCode bool
	// Limits bound what is read from the tree (zero fields: lemur's defaults).
	Limits lemur.ReadOptions
}

// ReasonCodeConflict: a code file whose name is stored with other code.
const ReasonCodeConflict = "code_conflict"

// Report counts what an import read and did.
type Report struct {
	Source    string          `json:"source"`
	Pipelines int             `json:"pipelines"`
	Models    int             `json:"models"`
	Files     int             `json:"files"`
	Records   int             `json:"records"`
	New       int             `json:"new"`
	Present   int             `json:"present"`
	Codes     CodeCounts      `json:"codes"`
	Replaced  []string        `json:"replaced,omitempty"` // kind/name of code replaced (ReplaceCode)
	Skipped   map[string]int  `json:"skipped"`            // files per reason
	Problems  []lemur.Problem `json:"problems"`
}

// CodeCounts counts code files per table.
type CodeCounts struct {
	Read    map[string]int `json:"read"`
	New     int            `json:"new"`
	Present int            `json:"present"`
}

// SkippedFiles is the number of files skipped for any reason.
func (r *Report) SkippedFiles() int {
	n := 0
	for _, c := range r.Skipped {
		n += c
	}
	return n
}

// Import reads the LEMUR tree at path into st, in one transaction: a crash
// or an error leaves the store as it was. Bad files are reported in the
// Report and skipped; the rest lands. With Strict the first problem aborts
// the import and nothing is written.
func Import(ctx context.Context, st store.Store, path string, opt ImportOptions) (*Report, error) {
	if opt.BatchRecords <= 0 {
		opt.BatchRecords = 20000
	}
	rep := &Report{Source: path, Skipped: map[string]int{}, Codes: CodeCounts{Read: map[string]int{}}}
	skip := func(p *lemur.Problem) error {
		if opt.Strict {
			return fmt.Errorf("%w (--strict: nothing was imported)", p)
		}
		slog.Warn("skipping file", "path", p.Path, "reason", p.Reason, "detail", p.Detail)
		rep.Skipped[p.Reason]++
		rep.Problems = append(rep.Problems, *p)
		return nil
	}
	pipelines := map[lemur.Pipeline]bool{}
	models := map[string]bool{}
	var codes []*lemur.File
	res, err := st.BulkAddStats(ctx, func(add func([]lemur.Record) error) error {
		var batch []lemur.Record
		flush := func() error {
			if len(batch) == 0 {
				return nil
			}
			if err := add(batch); err != nil {
				return fmt.Errorf("store records: %w", err)
			}
			batch = batch[:0]
			if opt.Progress != nil {
				opt.Progress(rep.Files, rep.Records)
			}
			return nil
		}
		lim := opt.Limits
		lim.Workers = opt.Workers
		err := lemur.ReadTree(ctx, path, lim, func(f *lemur.File) error {
			if f.IsCode() {
				codes = append(codes, f)
				return nil
			}
			rep.Files++
			rep.Records += len(f.Records)
			pipelines[f.Pipeline] = true
			models[f.Pipeline.NN] = true
			batch = append(batch, f.Records...)
			if len(batch) >= opt.BatchRecords {
				return flush()
			}
			return nil
		}, skip)
		if err != nil {
			return err
		}
		return flush()
	})
	if err != nil {
		return rep, err
	}
	rep.New, rep.Present = res.Added, res.Present
	sort.Slice(codes, func(i, j int) bool { return codes[i].Path < codes[j].Path })
	for _, f := range codes {
		rep.Codes.Read[f.CodeKind]++
		kind := store.CodeKind(f.CodeKind)
		old, ok, err := st.Code(ctx, kind, f.Name)
		if err != nil {
			return rep, fmt.Errorf("store %s: %w", f.Path, err)
		}
		if ok && old.Code != f.Code {
			if !opt.ReplaceCode {
				if err := skip(&lemur.Problem{Path: f.Path, Reason: ReasonCodeConflict, Detail: fmt.Sprintf(
					"%s %s is stored with other code (id %s, this file's is %s) and its stats were measured with it: kept; pass --replace-code to replace it",
					kind, f.Name, lemur.CodeID(old.Code), lemur.CodeID(f.Code))}); err != nil {
					return rep, err
				}
				continue
			}
			rep.Replaced = append(rep.Replaced, string(kind)+"/"+f.Name)
		}
		if f.CodeKind == string(store.KindNN) {
			models[f.Name] = true
		}
		r, err := st.PutCode(ctx, store.Code{Kind: kind, Name: f.Name, Code: f.Code})
		if err != nil {
			return rep, fmt.Errorf("store %s: %w", f.Path, err)
		}
		rep.Codes.New += r.Added
		rep.Codes.Present += r.Present
	}
	rep.Pipelines = len(pipelines)
	rep.Models = len(models)
	sort.Slice(rep.Problems, func(i, j int) bool { return rep.Problems[i].Path < rep.Problems[j].Path })
	return rep, nil
}
