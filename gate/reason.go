// Package gate decides, before any training is spent, whether a candidate
// model is worth training: ordered static checks on its code (through
// pyast), deduplication against everything the workspace knows, and an
// optional dynamic check (the worker's build and forward stages, plugged in
// by the caller). Every rejection carries a typed Reason, counted per run.
package gate

import (
	"fmt"
	"sort"
	"strings"
)

// Reason is why a candidate was rejected; ReasonAccepted when it was not.
// The string names are stable: they appear in reports, JSON and the store.
type Reason uint8

// Reasons in the order the gate checks them.
const (
	ReasonAccepted                 Reason = iota
	ReasonTooLarge                        // bytes or lines over the limits
	ReasonLiteralTable                    // a literal list or string big enough to hold memorised labels
	ReasonSyntax                          // the code does not parse
	ReasonContract                        // Net, its four methods or supported_hyperparameters() are missing or wrong
	ReasonForbiddenImport                 // an import outside the allow-list
	ReasonForbiddenCall                   // exec, eval, open and the like; downloads (torch.hub, pretrained weights, torch.load)
	ReasonTorch2API                       // an API torch 1.13 lacks
	ReasonUnusedHyperparameter            // a key supported_hyperparameters() returns is never read (NNGPT's rule)
	ReasonUndeclaredHyperparameter        // prm['k'] for a key neither declared nor supplied by the harness
	ReasonTooManyParameters               // the estimated parameter count exceeds the limit
	ReasonDuplicateCode                   // same LEMUR code id as a known model
	ReasonDuplicateNormalised             // same code up to comments, docstrings and formatting
	ReasonDuplicateStructure              // same code up to the names it defines
	ReasonBuild                           // the worker could not build Net (dynamic)
	ReasonForward                         // a forward pass failed (dynamic)
	ReasonDynamic                         // another dynamic failure (timeout, crash)
	numReasons
)

var reasonNames = [numReasons]string{
	"accepted", "too_large", "literal_table", "syntax", "contract", "forbidden_import", "forbidden_call", "torch2_api",
	"unused_hyperparameter", "undeclared_hyperparameter", "too_many_parameters",
	"duplicate_code", "duplicate_normalised", "duplicate_structure", "build", "forward", "dynamic",
}

var reasonStages = [numReasons]string{
	"static", "size", "size", "parse", "contract", "imports", "calls", "api",
	"hyperparameters", "hyperparameters", "size",
	"dedup", "dedup", "dedup", "build", "forward", "dynamic",
}

// Stage names the check a reason comes from ("parse", "contract", "dedup",
// "build", ...), the stage names synth.Verdict records; "static" for
// ReasonAccepted.
func (r Reason) Stage() string {
	if r < numReasons {
		return reasonStages[r]
	}
	return "unknown"
}

// Reasons lists every reason in check order.
func Reasons() []Reason {
	out := make([]Reason, numReasons)
	for i := range out {
		out[i] = Reason(i)
	}
	return out
}

func (r Reason) String() string {
	if r < numReasons {
		return reasonNames[r]
	}
	return fmt.Sprintf("reason(%d)", uint8(r))
}

// ParseReason is the inverse of String.
func ParseReason(s string) (Reason, error) {
	for i, n := range reasonNames {
		if n == s {
			return Reason(i), nil
		}
	}
	return 0, fmt.Errorf("unknown gate reason %q: want one of %s", s, strings.Join(reasonNames[:], ", "))
}

// MarshalText writes the stable name.
func (r Reason) MarshalText() ([]byte, error) {
	if r >= numReasons {
		return nil, fmt.Errorf("invalid gate reason %d", uint8(r))
	}
	return []byte(r.String()), nil
}

// UnmarshalText reads a stable name.
func (r *Reason) UnmarshalText(b []byte) error {
	v, err := ParseReason(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// Duplicate reports whether r is one of the duplicate reasons.
func (r Reason) Duplicate() bool {
	return r == ReasonDuplicateCode || r == ReasonDuplicateNormalised || r == ReasonDuplicateStructure
}

// Dynamic reports whether r comes from the dynamic check.
func (r Reason) Dynamic() bool { return r >= ReasonBuild && r < numReasons }

// Counts counts verdicts per reason.
type Counts map[Reason]int

// Add counts one verdict.
func (c Counts) Add(v Verdict) { c[v.Reason]++ }

// Total is the number of verdicts counted.
func (c Counts) Total() int {
	n := 0
	for _, v := range c {
		n += v
	}
	return n
}

// Accepted is the number of accepted candidates.
func (c Counts) Accepted() int { return c[ReasonAccepted] }

// Rejected is the number of rejected candidates.
func (c Counts) Rejected() int { return c.Total() - c.Accepted() }

// Duplicates is the number of duplicates: each is a training saved, since
// a duplicate has passed every static check and would have been trained.
func (c Counts) Duplicates() int {
	return c[ReasonDuplicateCode] + c[ReasonDuplicateNormalised] + c[ReasonDuplicateStructure]
}

// TrainingsSaved is the number of trainings dedup saved (Duplicates).
func (c Counts) TrainingsSaved() int { return c.Duplicates() }

// ReasonCount is one line of a count table.
type ReasonCount struct {
	Reason Reason `json:"reason"`
	Count  int    `json:"count"`
}

// Table lists the non-zero counts in check order.
func (c Counts) Table() []ReasonCount {
	var out []ReasonCount
	for _, r := range Reasons() {
		if n := c[r]; n > 0 {
			out = append(out, ReasonCount{r, n})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Reason < out[j].Reason })
	return out
}

// String is "accepted=3 syntax=1 duplicate_code=2".
func (c Counts) String() string {
	var parts []string
	for _, rc := range c.Table() {
		parts = append(parts, fmt.Sprintf("%s=%d", rc.Reason, rc.Count))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}
