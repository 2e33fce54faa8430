package store

import (
	"context"
	"iter"
)

// Dedup sources: where a known model came from.
const (
	DedupCorpus    = "corpus"    // a model of the nn table
	DedupCandidate = "candidate" // a candidate that passed the gates in an earlier run
)

// DedupEntry caches the duplicate keys of one model's code, so that the
// dedup index over thousands of corpus models is not re-parsed on every
// start. Version is the fingerprint algorithm's version (pyast.IDVersion):
// entries of another version are stale and ignored.
type DedupEntry struct {
	CodeID     string // lemur.CodeID of the code
	Normalised string
	Structure  string
	Name       string // model or candidate name
	Source     string // DedupCorpus or DedupCandidate
	Version    int
}

// Dedup persists the fingerprints of the dedup index.
type Dedup interface {
	// DedupEntries streams the entries stored for version.
	DedupEntries(ctx context.Context, version int) iter.Seq2[DedupEntry, error]
	// PutDedupEntries stores entries atomically. An entry whose code id and
	// version are already stored is left as it is, except that a corpus
	// entry replaces a candidate entry (the candidate was trained and
	// registered).
	PutDedupEntries(ctx context.Context, entries []DedupEntry) error
}
