package lemur

import (
	"fmt"
	"sort"
	"strings"
)

// Pipeline is one LEMUR stat folder: task_dataset_metric_nn.
type Pipeline struct {
	Task    string `json:"task"`
	Dataset string `json:"dataset"`
	Metric  string `json:"metric"`
	NN      string `json:"nn"`
}

// ParsePipeline splits a stat folder name into its four parts.
func ParsePipeline(folder string) (Pipeline, error) {
	parts := strings.Split(folder, "_")
	if len(parts) != 4 {
		return Pipeline{}, fmt.Errorf("folder name %q has %d '_'-separated parts, want 4 (task_dataset_metric_nn)", folder, len(parts))
	}
	for i, p := range parts {
		if p == "" {
			return Pipeline{}, fmt.Errorf("folder name %q: part %d is empty, want task_dataset_metric_nn", folder, i+1)
		}
	}
	return Pipeline{Task: parts[0], Dataset: parts[1], Metric: parts[2], NN: parts[3]}, nil
}

// String is the folder name.
func (p Pipeline) String() string {
	return p.Task + "_" + p.Dataset + "_" + p.Metric + "_" + p.NN
}

// Record is one trial at one epoch: a row of LEMUR's stat table.
type Record struct {
	Pipeline
	Epoch    int     `json:"epoch"`
	Accuracy float64 `json:"accuracy"`
	// Duration is cumulative nanoseconds since the trial started; nil when
	// the record has none.
	Duration *int64 `json:"duration,omitempty"`
	// UID identifies the hyperparameters; stored uids are opaque (about 5%
	// of old ones hash another key order), new ones come from lemur.UID.
	UID string `json:"uid"`
	// Prm holds every key of the record but uid, accuracy and duration, in
	// file order, with Python types: lr, batch, transform, momentum, ...
	Prm Dict `json:"-"`
	// ID is the stat row id (lemur.StatID).
	ID string `json:"id"`
}

// Transform is the record's transform name ("" when it has none).
func (r *Record) Transform() string {
	s, _ := r.Prm.String("transform")
	return s
}

// NewRecord builds a record for a trial this project ran, with its uid and
// stat id computed the way LEMUR computes them.
func NewRecord(p Pipeline, epoch int, accuracy float64, duration *int64, prm Dict) Record {
	prm = prm.Without(UIDKeysExcluded...)
	uid := UID(prm)
	var dur Value
	if duration != nil {
		dur = *duration
	}
	tr, _ := prm.Get("transform")
	return Record{
		Pipeline: p, Epoch: epoch, Accuracy: accuracy, Duration: duration, UID: uid, Prm: prm,
		ID: StatID(tr, uid, p, int64(epoch), dur, accuracy),
	}
}

// Object is the record as LEMUR writes it in an epoch file (json.dump with
// sort_keys): accuracy, duration when present, uid and the hyperparameters,
// keys sorted.
func (r *Record) Object() Dict {
	d := make(Dict, 0, len(r.Prm)+3)
	d = append(d, Item{"accuracy", r.Accuracy})
	d = append(d, r.Prm...)
	if r.Duration != nil {
		d = append(d, Item{"duration", *r.Duration})
	}
	d = append(d, Item{"uid", r.UID})
	sort.SliceStable(d, func(i, j int) bool { return d[i].Key < d[j].Key })
	return d
}
