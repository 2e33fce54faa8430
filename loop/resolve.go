package loop

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/nngpt/nngpt/store"
)

// Plan is the loop a run works on, chosen before anything is built: a new
// loop (not stored until Engine.Run) or an unfinished one with the
// settings it was started with.
type Plan struct {
	Loop     store.Loop
	Settings Settings
	Resumed  bool
}

// Selection says which loop to run.
type Selection struct {
	// Resume continues this loop (a unique prefix of its id will do).
	Resume string
	// New starts a new loop even when an unfinished one exists.
	New bool
}

// Resolve picks the loop to run: the one sel names, else the latest
// unfinished one, else a new loop with the settings fresh (its seed drawn
// when fresh has none). A resumed loop's stored settings are returned as
// they were, migrated to this version; comparing them with the caller's
// is the caller's business (config knows which values the user gave).
func Resolve(ctx context.Context, j store.Journal, sel Selection, fresh Settings) (Plan, error) {
	if sel.Resume != "" && sel.New {
		return Plan{}, fmt.Errorf("--resume and --new contradict each other: give one")
	}
	if sel.Resume != "" {
		l, err := FindLoop(ctx, j, sel.Resume)
		if err != nil {
			return Plan{}, err
		}
		if !l.Status.Resumable() {
			return Plan{}, fmt.Errorf("loop %s is %s: nothing to resume (`nngpt report %s` shows it; `nngpt run --new` starts another)", l.ID, l.Status, l.ID)
		}
		return resumed(l)
	}
	if !sel.New {
		loops, err := j.Loops(ctx)
		if err != nil {
			return Plan{}, err
		}
		if len(loops) > 0 && loops[0].Status.Resumable() {
			return resumed(loops[0])
		}
	}
	if err := fresh.Validate(); err != nil {
		return Plan{}, err
	}
	if fresh.Seed == 0 {
		var b [4]byte
		rand.Read(b[:])
		fresh.Seed = int64(binary.BigEndian.Uint32(b[:])) | 1
	}
	js, err := EncodeSettings(fresh)
	if err != nil {
		return Plan{}, err
	}
	var id [4]byte
	rand.Read(id[:])
	l := store.Loop{
		ID:     time.Now().UTC().Format("20060102-150405") + "-" + hex.EncodeToString(id[:]),
		Status: store.LoopRunning, Config: js, Seed: fresh.Seed, Cycles: fresh.Cycles,
	}
	fresh.Version = SettingsVersion
	return Plan{Loop: l, Settings: fresh}, nil
}

func resumed(l store.Loop) (Plan, error) {
	s, err := DecodeSettings(l.Config)
	if err != nil {
		return Plan{}, fmt.Errorf("loop %s: %w", l.ID, err)
	}
	return Plan{Loop: l, Settings: s, Resumed: true}, nil
}

// FindLoop finds a loop by its id or a unique prefix of it.
func FindLoop(ctx context.Context, j store.Journal, id string) (store.Loop, error) {
	if l, ok, err := j.GetLoop(ctx, id); err != nil || ok {
		return l, err
	}
	loops, err := j.Loops(ctx)
	if err != nil {
		return store.Loop{}, err
	}
	var match []store.Loop
	for _, l := range loops {
		if strings.HasPrefix(l.ID, id) {
			match = append(match, l)
		}
	}
	switch len(match) {
	case 1:
		return match[0], nil
	case 0:
		return store.Loop{}, fmt.Errorf("no loop %q in this workspace (`nngpt report --list` lists them)", id)
	}
	ids := make([]string, len(match))
	for i, l := range match {
		ids[i] = l.ID
	}
	return store.Loop{}, fmt.Errorf("loop %q is ambiguous: it starts %s; give more of the id", id, strings.Join(ids, ", "))
}

// WithPortable returns the stored settings with the portable ones (data
// folder, LLM endpoint, ...) that keys names taken from given.
func (s Settings) WithPortable(given Settings, keys []string) Settings {
	for _, k := range keys {
		if slices.Contains(Portable, k) {
			copyKey(reflect.ValueOf(&s).Elem(), reflect.ValueOf(given), k)
		}
	}
	return s
}

// copyKey sets the field at a setting key ("llm.url") of dst from src.
func copyKey(dst, src reflect.Value, key string) {
	head, rest, nested := strings.Cut(key, ".")
	t := dst.Type()
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name != head {
			continue
		}
		if nested {
			copyKey(dst.Field(i), src.Field(i), rest)
		} else {
			dst.Field(i).Set(src.Field(i))
		}
		return
	}
}
