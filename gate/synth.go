package gate

import (
	"context"

	"github.com/nngpt/nngpt/pyast"
	"github.com/nngpt/nngpt/synth"
)

// Synth is the verdict as a candidate carries it (synth.Verdict).
func (v Verdict) Synth() synth.Verdict {
	switch {
	case v.Accepted():
		return synth.Verdict{Status: synth.StatusAccepted, Stage: "static"}
	case v.Reason.Duplicate():
		sv := synth.Verdict{Status: synth.StatusDuplicate, Stage: v.Reason.Stage(), Reason: v.Reason.String(), Message: v.Detail}
		if v.Duplicate != nil {
			sv.DuplicateOf = v.Duplicate.Name
		}
		return sv
	}
	return synth.Reject(v.Reason.Stage(), v.Reason.String(), v.Detail)
}

// SynthChecker judges synth candidates with a Gate: the closed loop's gate
// (loop.Gate) and the LLM generator's repair check.
type SynthChecker struct{ Gate *Gate }

// Check runs every check (static, dedup, dynamic) on c.
func (s SynthChecker) Check(ctx context.Context, c *synth.Candidate) synth.Verdict {
	v, err := s.Gate.Check(ctx, Candidate{Name: c.Name, Code: c.Code})
	if err != nil {
		return synth.Reject("gate", "internal", err.Error())
	}
	return v.Synth()
}

// Static runs the static checks only: what an LLM can repair from the
// message alone.
func (s SynthChecker) Static(_ context.Context, c *synth.Candidate) (synth.Verdict, error) {
	return s.Gate.Static(Candidate{Name: c.Name, Code: c.Code}).Synth(), nil
}

// Learn adds an earlier candidate that passed the gate to the dedup index.
func (s SynthChecker) Learn(name, code string) {
	if ix := s.Gate.Index(); ix != nil {
		ix.Add(name, pyast.CodeIDs([]byte(code)), SourceCandidate)
	}
}
