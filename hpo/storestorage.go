package hpo

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/store"
)

// StoreStorage keeps studies in the workspace database (store.HPO), so a
// study survives restarts and several nngpt processes can share it.
type StoreStorage struct{ S store.HPO }

var _ Storage = StoreStorage{}

// CreateStudy implements Storage.
func (s StoreStorage) CreateStudy(ctx context.Context, info StudyInfo) (StudyInfo, bool, error) {
	sp, err := json.Marshal(info.Space)
	if err != nil {
		return StudyInfo{}, false, err
	}
	attrs, err := json.Marshal(info.Attrs)
	if err != nil {
		return StudyInfo{}, false, err
	}
	objs := []byte("[]")
	if len(info.Objectives) > 0 {
		if objs, err = json.Marshal(info.Objectives); err != nil {
			return StudyInfo{}, false, err
		}
	}
	got, created, err := s.S.CreateHPOStudy(ctx, store.HPOStudy{Name: info.Name, Direction: string(info.Direction), Space: string(sp),
		Sampler: info.Sampler, Seed: info.Seed, Attrs: string(attrs), Objectives: string(objs), Created: time.Now()})
	if err != nil {
		return StudyInfo{}, false, err
	}
	out, err := studyFromStore(got)
	return out, created, err
}

func studyFromStore(st store.HPOStudy) (StudyInfo, error) {
	info := StudyInfo{Name: st.Name, Direction: Direction(st.Direction), Sampler: st.Sampler, Seed: st.Seed}
	var sp Space
	if err := json.Unmarshal([]byte(st.Space), &sp); err != nil {
		return StudyInfo{}, fmt.Errorf("study %s: stored space is not valid JSON: %w", st.Name, err)
	}
	checked, err := NewSpace(sp.Params...)
	if err != nil {
		return StudyInfo{}, fmt.Errorf("study %s: stored space: %w", st.Name, err)
	}
	info.Space = checked
	if st.Objectives != "" && st.Objectives != "[]" {
		if err := json.Unmarshal([]byte(st.Objectives), &info.Objectives); err != nil {
			return StudyInfo{}, fmt.Errorf("study %s: stored objectives: %w", st.Name, err)
		}
	}
	if st.Attrs != "" && st.Attrs != "null" {
		if err := json.Unmarshal([]byte(st.Attrs), &info.Attrs); err != nil {
			return StudyInfo{}, fmt.Errorf("study %s: stored attrs: %w", st.Name, err)
		}
	}
	return info, nil
}

// Studies lists the stored studies.
func (s StoreStorage) Studies(ctx context.Context) ([]StudyInfo, error) {
	sts, err := s.S.HPOStudies(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]StudyInfo, 0, len(sts))
	for _, st := range sts {
		info, err := studyFromStore(st)
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	return out, nil
}

func trialToStore(t Trial) (store.HPOTrial, error) {
	prm := t.Params
	if prm == nil {
		prm = lemur.Dict{}
	}
	pj, err := lemur.EncodeJSON(prm, 0, false)
	if err != nil {
		return store.HPOTrial{}, fmt.Errorf("trial %d params: %w", t.Number, err)
	}
	ij, err := json.Marshal(t.Intermediate)
	if err != nil {
		return store.HPOTrial{}, err
	}
	vj := []byte("[]")
	if len(t.Values) > 0 {
		if vj, err = json.Marshal(t.Values); err != nil {
			return store.HPOTrial{}, fmt.Errorf("trial %d objective values: %w", t.Number, err)
		}
	}
	st := store.HPOTrial{Number: t.Number, State: string(t.State), Params: string(pj), Intermediate: string(ij),
		Values: string(vj), Source: t.Source, Note: t.Note, Started: t.Started, Finished: t.Finished}
	if (t.State == Complete || t.State == Pruned) && !math.IsNaN(t.Value) {
		v := t.Value
		st.Value = &v
	}
	return st, nil
}

func trialFromStore(st store.HPOTrial) (Trial, error) {
	t := Trial{Number: st.Number, State: State(st.State), Source: st.Source, Note: st.Note, Started: st.Started, Finished: st.Finished, Value: math.NaN()}
	if st.Value != nil {
		t.Value = *st.Value
	}
	v, err := lemur.DecodeJSON([]byte(st.Params))
	if err != nil {
		return Trial{}, fmt.Errorf("trial %d: stored params: %w", st.Number, err)
	}
	d, ok := v.(lemur.Dict)
	if !ok {
		return Trial{}, fmt.Errorf("trial %d: stored params are not a JSON object", st.Number)
	}
	if len(d) > 0 {
		t.Params = d
	}
	if st.Values != "" && st.Values != "[]" {
		if err := json.Unmarshal([]byte(st.Values), &t.Values); err != nil {
			return Trial{}, fmt.Errorf("trial %d: stored objective values: %w", st.Number, err)
		}
	}
	if st.Intermediate != "" {
		if err := json.Unmarshal([]byte(st.Intermediate), &t.Intermediate); err != nil {
			return Trial{}, fmt.Errorf("trial %d: stored intermediate values: %w", st.Number, err)
		}
	}
	return t, nil
}

// Reserve implements Storage.
func (s StoreStorage) Reserve(ctx context.Context, study string, now time.Time) (Trial, bool, error) {
	st, claimed, err := s.S.ReserveHPOTrial(ctx, study, now)
	if err != nil {
		return Trial{}, false, err
	}
	t, err := trialFromStore(st)
	return t, claimed, err
}

// AddTrial implements Storage.
func (s StoreStorage) AddTrial(ctx context.Context, study string, t Trial) (Trial, error) {
	st, err := trialToStore(t)
	if err != nil {
		return Trial{}, err
	}
	got, err := s.S.AddHPOTrial(ctx, study, st)
	if err != nil {
		return Trial{}, err
	}
	t.Number = got.Number
	return t, nil
}

// UpdateTrial implements Storage.
func (s StoreStorage) UpdateTrial(ctx context.Context, study string, t Trial) error {
	st, err := trialToStore(t)
	if err != nil {
		return err
	}
	return s.S.UpdateHPOTrial(ctx, study, st)
}

// Trials implements Storage.
func (s StoreStorage) Trials(ctx context.Context, study string) ([]Trial, error) {
	sts, err := s.S.HPOTrials(ctx, study)
	if err != nil {
		return nil, err
	}
	out := make([]Trial, 0, len(sts))
	for _, st := range sts {
		t, err := trialFromStore(st)
		if err != nil {
			return nil, fmt.Errorf("study %s: %w", study, err)
		}
		out = append(out, t)
	}
	return out, nil
}
