package rag

import (
	"context"
	"fmt"
	"strings"

	"github.com/nngpt/nngpt/lemur"
	"github.com/nngpt/nngpt/store"
)

// This file is the library API that synthesis uses: list the stored
// blocks and get one by name.

func codeID(code string) string { return lemur.CodeID(code) }

// Get returns a stored block by its name (module.Class) or, when exactly
// one stored block has that class name, by the class name alone.
func Get(ctx context.Context, st store.RAG, name string) (store.RAGBlock, error) {
	b, ok, err := st.Block(ctx, name)
	if err != nil {
		return b, err
	}
	if ok {
		return b, nil
	}
	bs, err := st.Blocks(ctx, store.RAGFilter{Class: name})
	if err != nil {
		return store.RAGBlock{}, err
	}
	switch len(bs) {
	case 0:
		return store.RAGBlock{}, fmt.Errorf("no block named %s in the library (see `nngpt rag list`; add one with `nngpt rag extract`)", name)
	case 1:
		return bs[0], nil
	}
	var names []string
	for _, b := range bs {
		names = append(names, b.Name)
	}
	return store.RAGBlock{}, fmt.Errorf("%d blocks have class %s: name one of %s", len(bs), name, strings.Join(names, ", "))
}

// Usable lists the blocks that build and run forward (level 2), the ones
// synthesis should offer to the LLM or insert into models.
func Usable(ctx context.Context, st store.RAG) ([]store.RAGBlock, error) {
	return st.Blocks(ctx, store.RAGFilter{MinLevel: 2})
}
