package corpus

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"

	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/store"
)

// ExportReport counts what an export wrote.
type ExportReport struct {
	Dir       string `json:"dir"`
	Models    int    `json:"models"`
	Codes     int    `json:"codes"`
	Pipelines int    `json:"pipelines"`
	Files     int    `json:"files"`
	Records   int    `json:"records"`
}

// Export writes the store (or the models whose name matches pattern, a
// path.Match glob; "" for all) as a LEMUR tree under dir:
// nn/<name>.py, transform/<name>.py, metric/<name>.py and
// stat/<task>_<dataset>_<metric>_<nn>/<epoch>.json, each file an array of
// records sorted by accuracy, descending, as LEMUR writes them.
func Export(ctx context.Context, st store.Store, dir, pattern string) (*ExportReport, error) {
	if pattern != "" {
		if _, err := path.Match(pattern, ""); err != nil {
			return nil, fmt.Errorf("--nn pattern %q: %w", pattern, err)
		}
	}
	match := func(name string) bool {
		ok, _ := path.Match(pattern, name)
		return pattern == "" || ok
	}
	rep := &ExportReport{Dir: dir}
	transforms := map[string]bool{}
	metrics := map[string]bool{}
	models := map[string]bool{}
	// Write one epoch file at a time: rows arrive grouped by pipeline and epoch.
	var cur []lemur.Record
	pipelines := map[lemur.Pipeline]bool{}
	flush := func() error {
		if len(cur) == 0 {
			return nil
		}
		r0 := cur[0]
		sort.SliceStable(cur, func(i, j int) bool { return cur[i].Accuracy > cur[j].Accuracy })
		arr := make([]lemur.Value, len(cur))
		for i := range cur {
			arr[i] = cur[i].Object()
		}
		data, err := lemur.EncodeJSON(arr, 4, true)
		if err != nil {
			return fmt.Errorf("%s epoch %d: %w", r0.Pipeline, r0.Epoch, err)
		}
		p := filepath.Join(dir, "stat", r0.Pipeline.String(), fmt.Sprintf("%d.json", r0.Epoch))
		if err := writeFile(p, data); err != nil {
			return err
		}
		rep.Files++
		rep.Records += len(cur)
		cur = cur[:0]
		return nil
	}
	for r, err := range st.Stats(ctx, store.Filter{}) {
		if err != nil {
			return rep, err
		}
		if !match(r.NN) {
			continue
		}
		if len(cur) > 0 && (cur[0].Pipeline != r.Pipeline || cur[0].Epoch != r.Epoch) {
			if err := flush(); err != nil {
				return rep, err
			}
		}
		cur = append(cur, r)
		pipelines[r.Pipeline] = true
		models[r.NN] = true
		if t := r.Transform(); t != "" {
			transforms[t] = true
		}
		metrics[r.Metric] = true
	}
	if err := flush(); err != nil {
		return rep, err
	}
	rep.Pipelines = len(pipelines)
	for _, kind := range store.CodeKinds {
		for c, err := range st.Codes(ctx, kind, "") {
			if err != nil {
				return rep, err
			}
			keep := false
			switch kind {
			case store.KindNN:
				keep = match(c.Name)
				if keep {
					models[c.Name] = true
				}
			case store.KindTransform:
				keep = pattern == "" || transforms[c.Name]
			case store.KindMetric:
				keep = pattern == "" || metrics[c.Name]
			}
			if !keep {
				continue
			}
			if err := writeFile(filepath.Join(dir, string(kind), c.Name+".py"), []byte(c.Code)); err != nil {
				return rep, err
			}
			rep.Codes++
		}
	}
	rep.Models = len(models)
	return rep, nil
}

// writeFile writes through a temporary file and a rename, so an
// interrupted export never leaves a truncated JSON file behind.
func writeFile(p string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}
