package hpo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nngpt/nngpt/lemur"
)

// State is where a trial is in its life.
type State string

const (
	Waiting  State = "waiting" // enqueued (a one-shot proposal), not yet asked
	Running  State = "running"
	Complete State = "complete"
	Pruned   State = "pruned"
	Failed   State = "failed"
)

// Finished reports whether the trial has ended.
func (s State) Finished() bool { return s == Complete || s == Pruned || s == Failed }

// Direction says whether the objective is maximised (accuracy) or minimised.
type Direction string

const (
	Maximize Direction = "maximize"
	Minimize Direction = "minimize"
)

// Objective is one quantity a multi-objective study optimises (accuracy,
// parameter count, training time, ...).
type Objective struct {
	Name      string    `json:"name"`
	Direction Direction `json:"direction"`
}

// Step is one intermediate value (the accuracy after an epoch).
type Step struct {
	Step  int     `json:"step"`
	Value float64 `json:"value"`
}

// Trial is one configuration of a study and what became of it.
type Trial struct {
	Number int        `json:"number"`
	State  State      `json:"state"`
	Params lemur.Dict `json:"-"`
	Value  float64    `json:"value"` // the (first) objective when Complete; the last step's when Pruned
	// Values are every objective's value of a complete trial of a
	// multi-objective study, in StudyInfo.Objectives order.
	Values       []float64 `json:"values,omitempty"`
	Intermediate []Step    `json:"intermediate,omitempty"`
	Source       string    `json:"source"`         // sampler or recommender that proposed it
	Note         string    `json:"note,omitempty"` // why it failed or was pruned
	Started      time.Time `json:"started"`
	Finished     time.Time `json:"finished,omitzero"`
}

// StudyInfo defines a study: its search space, objective direction,
// sampler and seed, plus free attributes (model, dataset, epochs).
type StudyInfo struct {
	Name      string            `json:"name"`
	Direction Direction         `json:"direction"`
	Space     *Space            `json:"space"`
	Sampler   string            `json:"sampler"`
	Seed      uint64            `json:"seed"`
	Attrs     map[string]string `json:"attrs,omitempty"`
	// Objectives, when more than one, make the study multi-objective:
	// Direction is then the first one's, and samplers rank trials by
	// Pareto dominance.
	Objectives []Objective `json:"objectives,omitempty"`
}

// MultiObjective reports whether the study optimises several objectives.
func (i *StudyInfo) MultiObjective() bool { return len(i.Objectives) > 1 }

// PinnedAttrs are the attributes a study cannot resume without: trials
// of other code, another dataset or other training data (a subset of
// another size or seed) would mislead the sampler.
var PinnedAttrs = []string{"code_id", "dataset", "data"}

// Storage keeps studies and their trials. MemoryStorage serves tests and
// the benchmark; StoreStorage persists them in the workspace database so a
// study survives restarts and several workers share it.
type Storage interface {
	// CreateStudy returns the stored study of that name, or stores info
	// as a new one (created true).
	CreateStudy(ctx context.Context, info StudyInfo) (got StudyInfo, created bool, err error)
	// Reserve atomically claims the oldest waiting trial (marking it
	// running) or, when there is none, adds a new running trial with the
	// next number and no parameters yet.
	Reserve(ctx context.Context, study string, now time.Time) (t Trial, claimed bool, err error)
	// AddTrial stores a trial under the next number and returns it.
	AddTrial(ctx context.Context, study string, t Trial) (Trial, error)
	// UpdateTrial overwrites a trial's state, parameters and values.
	UpdateTrial(ctx context.Context, study string, t Trial) error
	// Trials lists a study's trials by number.
	Trials(ctx context.Context, study string) ([]Trial, error)
}

// Study is the ask/tell interface over a stored study.
type Study struct {
	Info    StudyInfo
	Sampler Sampler
	storage Storage
	now     func() time.Time
}

// OpenStudy loads the study named in info from storage or creates it.
// An existing study keeps its own space, direction, sampler and seed; a
// different space in info is an error, because mixing trials of two spaces
// would mislead the sampler.
func OpenStudy(ctx context.Context, st Storage, info StudyInfo) (*Study, error) {
	if info.Name == "" {
		return nil, errors.New("a study needs a name")
	}
	if info.Space == nil {
		return nil, fmt.Errorf("study %s: no search space", info.Name)
	}
	for i, o := range info.Objectives {
		if o.Name == "" || (o.Direction != Maximize && o.Direction != Minimize) {
			return nil, fmt.Errorf("study %s: objective %d (%q, %q): want a name and maximize or minimize", info.Name, i+1, o.Name, o.Direction)
		}
	}
	if len(info.Objectives) == 1 {
		info.Direction, info.Objectives = info.Objectives[0].Direction, nil
	}
	if len(info.Objectives) > 1 {
		info.Direction = info.Objectives[0].Direction
	}
	if info.Direction == "" {
		info.Direction = Maximize
	}
	if info.Direction != Maximize && info.Direction != Minimize {
		return nil, fmt.Errorf("study %s: direction %q (want maximize or minimize)", info.Name, info.Direction)
	}
	if info.Sampler == "" {
		info.Sampler = "tpe"
	}
	got, created, err := st.CreateStudy(ctx, info)
	if err != nil {
		return nil, fmt.Errorf("open study %s: %w", info.Name, err)
	}
	if !created && !sameSpace(got.Space, info.Space) {
		return nil, fmt.Errorf("study %s already exists with another search space:\n%swant:\n%suse another --study name or the same space", info.Name, got.Space, info.Space)
	}
	if !created && !slices.Equal(got.Objectives, info.Objectives) {
		return nil, fmt.Errorf("study %s optimises %s, not %s: use another --study name or the same objectives", info.Name, objectiveNames(got), objectiveNames(info))
	}
	for _, k := range PinnedAttrs {
		// A study recorded before an attribute existed resumes.
		if old, ok := got.Attrs[k]; ok && info.Attrs[k] != "" && old != info.Attrs[k] {
			return nil, fmt.Errorf("study %s was run with %s %s, not %s: use another --study name, or the same %s", info.Name, k, old, info.Attrs[k], k)
		}
	}
	samplerName := got.Sampler
	if samplerName == "oneshot" || samplerName == "llm" {
		samplerName = "tpe" // one-shot proposals are enqueued; the search after them is TPE
	}
	s, err := NewSampler(samplerName)
	if err != nil {
		return nil, fmt.Errorf("study %s: %w", info.Name, err)
	}
	return &Study{Info: got, Sampler: s, storage: st, now: time.Now}, nil
}

func objectiveNames(i StudyInfo) string {
	if len(i.Objectives) == 0 {
		return "one objective (" + string(i.Direction) + ")"
	}
	var names []string
	for _, o := range i.Objectives {
		names = append(names, o.Name+" ("+string(o.Direction)+")")
	}
	return strings.Join(names, ", ")
}

func sameSpace(a, b *Space) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// Enqueue adds a configuration to be asked before the sampler's own
// proposals (a one-shot recommendation warm-starting the search). It is
// clipped to the space first; unusable values are an error.
func (s *Study) Enqueue(ctx context.Context, cfg lemur.Dict, source string) (Trial, error) {
	clipped, missing, err := s.Info.Space.Clip(cfg)
	if err != nil {
		return Trial{}, fmt.Errorf("enqueue: %w", err)
	}
	if len(missing) > 0 {
		return Trial{}, fmt.Errorf("enqueue: the configuration lacks %v", missing)
	}
	return s.storage.AddTrial(ctx, s.Info.Name, Trial{State: Waiting, Params: clipped, Source: source, Started: s.now()})
}

// Ask returns the next trial to run: an enqueued one if any, otherwise a
// fresh proposal of the sampler given every finished trial and, as
// pending observations, the trials other workers are running.
func (s *Study) Ask(ctx context.Context) (Trial, error) {
	t, claimed, err := s.storage.Reserve(ctx, s.Info.Name, s.now())
	if err != nil {
		return Trial{}, fmt.Errorf("ask: %w", err)
	}
	if claimed {
		return t, nil
	}
	all, err := s.storage.Trials(ctx, s.Info.Name)
	if err != nil {
		return Trial{}, fmt.Errorf("ask: %w", err)
	}
	var hist []Trial
	for _, o := range all {
		if o.Number < t.Number && o.State.Finished() {
			hist = append(hist, o)
		}
	}
	obs := Observations(&s.Info, hist)
	for _, o := range all {
		if o.Number != t.Number && o.State == Running && len(o.Params) > 0 {
			obs = append(obs, Observation{X: s.Info.Space.Encode(o.Params), Loss: math.Inf(1), Pending: true})
		}
	}
	x := s.Sampler.Sample(s.Info.Space, obs, NewRand(s.Info.Seed, t.Number))
	t.Params = s.Info.Space.Decode(x)
	t.Source = s.Sampler.Name()
	if err := s.storage.UpdateTrial(ctx, s.Info.Name, t); err != nil {
		return Trial{}, fmt.Errorf("ask: %w", err)
	}
	return t, nil
}

// Observations turns finished trials into what samplers see: failed
// trials are left out, values negated when maximising; a complete trial
// of a multi-objective study also carries every objective as a loss.
func Observations(info *StudyInfo, trials []Trial) []Observation {
	obs := make([]Observation, 0, len(trials))
	for _, t := range trials {
		if t.State != Complete && t.State != Pruned {
			continue
		}
		loss := t.Value
		if info.Direction == Maximize {
			loss = -loss
		}
		o := Observation{X: info.Space.Encode(t.Params), Loss: loss, Pruned: t.State == Pruned}
		if info.MultiObjective() && t.State == Complete && len(t.Values) == len(info.Objectives) {
			o.Losses = make([]float64, len(t.Values))
			for i, v := range t.Values {
				if o.Losses[i] = v; info.Objectives[i].Direction == Maximize {
					o.Losses[i] = -v
				}
			}
		}
		if n := len(t.Intermediate); n > 0 {
			o.Step = t.Intermediate[n-1].Step
		}
		obs = append(obs, o)
	}
	return obs
}

// Report records an intermediate value of a running trial.
func (s *Study) Report(ctx context.Context, t *Trial, step int, value float64) error {
	if math.IsNaN(value) {
		return fmt.Errorf("trial %d: intermediate value at step %d is NaN", t.Number, step)
	}
	t.Intermediate = append(t.Intermediate, Step{Step: step, Value: value})
	return s.storage.UpdateTrial(ctx, s.Info.Name, *t)
}

// Tell finishes a trial. For Complete the value is the objective; for
// Pruned it defaults to the last intermediate value; Failed keeps note.
// A complete trial of a multi-objective study needs t.Values set (value
// is then ignored: it is the first objective's).
func (s *Study) Tell(ctx context.Context, t *Trial, state State, value float64, note string) error {
	if !state.Finished() {
		return fmt.Errorf("trial %d: tell with state %q (want complete, pruned or failed)", t.Number, state)
	}
	if s.Info.MultiObjective() && state == Complete {
		if len(t.Values) != len(s.Info.Objectives) {
			return fmt.Errorf("trial %d: %d objective values for the study's %d objectives (%s)", t.Number, len(t.Values), len(s.Info.Objectives), objectiveNames(s.Info))
		}
		if slices.ContainsFunc(t.Values, math.IsNaN) {
			return fmt.Errorf("trial %d: an objective value is NaN: %v", t.Number, t.Values)
		}
		value = t.Values[0]
	}
	if state == Complete && math.IsNaN(value) {
		return fmt.Errorf("trial %d: a complete trial needs a value, got NaN", t.Number)
	}
	if state == Pruned && math.IsNaN(value) && len(t.Intermediate) > 0 {
		value = t.Intermediate[len(t.Intermediate)-1].Value
	}
	t.State, t.Value, t.Note, t.Finished = state, value, note, s.now()
	return s.storage.UpdateTrial(ctx, s.Info.Name, *t)
}

// Trials lists the study's trials.
func (s *Study) Trials(ctx context.Context) ([]Trial, error) {
	return s.storage.Trials(ctx, s.Info.Name)
}

// Best returns the best complete trial; ok is false when there is none.
func (s *Study) Best(ctx context.Context) (best Trial, ok bool, err error) {
	ts, err := s.Trials(ctx)
	if err != nil {
		return Trial{}, false, err
	}
	return BestOf(ts, s.Info.Direction)
}

// BestOf picks the best complete trial of ts.
func BestOf(ts []Trial, dir Direction) (best Trial, ok bool, err error) {
	for _, t := range ts {
		if t.State != Complete {
			continue
		}
		if !ok || (dir == Maximize && t.Value > best.Value) || (dir == Minimize && t.Value < best.Value) {
			best, ok = t, true
		}
	}
	return best, ok, nil
}

// MemoryStorage keeps studies in memory; safe for concurrent use.
type MemoryStorage struct {
	mu      sync.Mutex
	studies map[string]*memStudy
}

type memStudy struct {
	info   StudyInfo
	trials []Trial
}

// NewMemoryStorage returns an empty in-memory storage.
func NewMemoryStorage() *MemoryStorage { return &MemoryStorage{studies: map[string]*memStudy{}} }

// CreateStudy implements Storage.
func (m *MemoryStorage) CreateStudy(_ context.Context, info StudyInfo) (StudyInfo, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.studies[info.Name]; ok {
		return s.info, false, nil
	}
	m.studies[info.Name] = &memStudy{info: info}
	return info, true, nil
}

func (m *MemoryStorage) study(name string) (*memStudy, error) {
	s, ok := m.studies[name]
	if !ok {
		return nil, fmt.Errorf("no study named %q", name)
	}
	return s, nil
}

// Reserve implements Storage.
func (m *MemoryStorage) Reserve(_ context.Context, study string, now time.Time) (Trial, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.study(study)
	if err != nil {
		return Trial{}, false, err
	}
	for i := range s.trials {
		if s.trials[i].State == Waiting {
			s.trials[i].State, s.trials[i].Started = Running, now
			return cloneTrial(s.trials[i]), true, nil
		}
	}
	t := Trial{Number: len(s.trials), State: Running, Started: now}
	s.trials = append(s.trials, t)
	return t, false, nil
}

// AddTrial implements Storage.
func (m *MemoryStorage) AddTrial(_ context.Context, study string, t Trial) (Trial, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.study(study)
	if err != nil {
		return Trial{}, err
	}
	t.Number = len(s.trials)
	s.trials = append(s.trials, cloneTrial(t))
	return t, nil
}

// UpdateTrial implements Storage.
func (m *MemoryStorage) UpdateTrial(_ context.Context, study string, t Trial) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.study(study)
	if err != nil {
		return err
	}
	if t.Number < 0 || t.Number >= len(s.trials) {
		return fmt.Errorf("study %s has no trial %d", study, t.Number)
	}
	s.trials[t.Number] = cloneTrial(t)
	return nil
}

// Trials implements Storage.
func (m *MemoryStorage) Trials(_ context.Context, study string) ([]Trial, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.study(study)
	if err != nil {
		return nil, err
	}
	out := make([]Trial, len(s.trials))
	for i, t := range s.trials {
		out[i] = cloneTrial(t)
	}
	return out, nil
}

func cloneTrial(t Trial) Trial {
	t.Params = slices.Clone(t.Params)
	t.Values = slices.Clone(t.Values)
	t.Intermediate = slices.Clone(t.Intermediate)
	return t
}
