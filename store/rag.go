package store

import (
	"context"
	"time"
)

// RAGBlock is one NN-RAG block: a class extracted from a repository with
// everything it needs into one self-contained file, and how far it got in
// validation.
type RAGBlock struct {
	// Name is the block's key: the class's qualified name (module.Class).
	Name   string `json:"name"`
	Class  string `json:"class"`
	Module string `json:"module"`
	Code   string `json:"code"`
	ID     string `json:"id"` // lemur.CodeID(Code)
	Repo   string `json:"repo"`
	Commit string `json:"commit,omitempty"`
	// Paths are the repository files the block was taken from; Sources the
	// statements (JSON list of {module, path, names, start_line, end_line}).
	Paths   []string `json:"paths"`
	Sources string   `json:"sources"`
	// Level is the validation level reached: 0 the file does not execute,
	// 1 it executes as a module, 2 the class builds and runs forward;
	// -1 not validated.
	Level      int       `json:"level"`
	Error      string    `json:"error,omitempty"`      // why the next level was not reached
	ErrorKind  string    `json:"error_kind,omitempty"` // failure kind of the worker (import, forward, timeout, ...)
	Input      string    `json:"input,omitempty"`      // level 2: how it was built and the input forward ran on, e.g. "Block(channels=16) on 2x16x32x32 tensor"
	Unresolved []string  `json:"unresolved,omitempty"` // names the extractor could not resolve
	UpdatedAt  time.Time `json:"updated_at"`
}

// RAGFilter selects blocks; empty fields match everything.
type RAGFilter struct {
	MinLevel int    // only blocks validated at least this far
	Repo     string // only blocks from this repository folder
	Class    string // only blocks of this class name
}

// RAG is the block library.
type RAG interface {
	// PutBlock stores b under b.Name, replacing an older block of that name.
	PutBlock(ctx context.Context, b RAGBlock) error
	// Block returns the block named name; ok is false when there is none.
	Block(ctx context.Context, name string) (b RAGBlock, ok bool, err error)
	// Blocks lists blocks matching f, by name.
	Blocks(ctx context.Context, f RAGFilter) ([]RAGBlock, error)
}
