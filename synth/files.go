package synth

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/nngpt/nngpt/lemur"
)

// Files of a candidate folder (WriteDir). The model file is named after
// the candidate so the folder can be copied into a LEMUR nn/ tree as is.
const (
	FileMeta      = "candidate.json"
	FileHP        = "hp.json"
	FileTransform = "transform.txt"
	FilePrompt    = "prompt.txt"
	FileReply     = "reply.txt"
	FileModel     = "model.py"
)

// candidateJSON is Candidate on the wire: HP as a JSON object in its own
// key order, with Python's int/float distinction kept.
type candidateJSON struct {
	*jsonAlias
	HP json.RawMessage `json:"hp"`
}

type jsonAlias Candidate

// MarshalJSON writes the candidate with its hyperparameters as an object.
func (c *Candidate) MarshalJSON() ([]byte, error) {
	hp, err := HPJSON(c.HP)
	if err != nil {
		return nil, fmt.Errorf("candidate %s: hp: %w", c.ID, err)
	}
	return json.Marshal(candidateJSON{jsonAlias: (*jsonAlias)(c), HP: hp})
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (c *Candidate) UnmarshalJSON(data []byte) error {
	w := candidateJSON{jsonAlias: (*jsonAlias)(c)}
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	c.HP = nil
	if len(w.HP) == 0 || string(w.HP) == "null" {
		return nil
	}
	hp, err := ParseHP(w.HP)
	if err != nil {
		return fmt.Errorf("candidate hp: %w", err)
	}
	c.HP = hp
	return nil
}

// HPJSON encodes hyperparameters as a JSON object ({} when empty), the way
// Python's json.dumps would.
func HPJSON(hp lemur.Dict) ([]byte, error) {
	if hp == nil {
		hp = lemur.Dict{}
	}
	return lemur.EncodeJSON(hp, 0, false)
}

// ParseHP decodes a JSON object of hyperparameters.
func ParseHP(data []byte) (lemur.Dict, error) {
	v, err := lemur.DecodeJSON(data)
	if err != nil {
		return nil, err
	}
	d, ok := v.(lemur.Dict)
	if !ok {
		return nil, fmt.Errorf("hyperparameters are a JSON %T, want an object", v)
	}
	return d, nil
}

// WriteDir writes the candidate into dir (created when missing): the model
// code, hp.json, transform.txt, prompt.txt and reply.txt when present, and
// candidate.json with everything. Files that would be empty are not
// written, and stale ones from an earlier write are removed.
func (c *Candidate) WriteDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("candidate %s: %w", c.ID, err)
	}
	hp, err := lemur.EncodeJSON(orEmpty(c.HP), 2, false)
	if err != nil {
		return fmt.Errorf("candidate %s: hp: %w", c.ID, err)
	}
	meta, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("candidate %s: %w", c.ID, err)
	}
	files := []struct {
		name string
		data []byte
	}{
		{FileModel, []byte(c.Code)},
		{FileHP, append(hp, '\n')},
		{FileTransform, lineOrEmpty(c.Transform)},
		{FilePrompt, []byte(c.Prompt)},
		{FileReply, []byte(c.Reply)},
		{FileMeta, append(meta, '\n')},
	}
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		if len(f.data) == 0 {
			if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("candidate %s: %w", c.ID, err)
			}
			continue
		}
		if err := writeFileAtomic(p, f.data); err != nil {
			return fmt.Errorf("candidate %s: %w", c.ID, err)
		}
	}
	return nil
}

// ReadDir reads a candidate folder written by WriteDir.
func ReadDir(dir string) (*Candidate, error) {
	data, err := os.ReadFile(filepath.Join(dir, FileMeta))
	if err != nil {
		return nil, fmt.Errorf("read candidate: %w", err)
	}
	var c Candidate
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("read candidate %s: %w", filepath.Join(dir, FileMeta), err)
	}
	return &c, nil
}

func orEmpty(d lemur.Dict) lemur.Dict {
	if d == nil {
		return lemur.Dict{}
	}
	return d
}

func lineOrEmpty(s string) []byte {
	if s == "" {
		return nil
	}
	return []byte(s + "\n")
}

// writeFileAtomic writes through a temporary file so a killed run never
// leaves a half-written candidate file behind.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}
