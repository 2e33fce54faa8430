package sqlite

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nngpt/nngpt/store"
)

func TestLease(t *testing.T) {
	ctx := context.Background()
	a := store.LeaseInfo{Token: "tok-a", PID: 101, Host: "node-a"}
	b := store.LeaseInfo{Token: "tok-b", PID: 202, Host: "node-b"}
	steps := []struct {
		name string
		do   func(db *DB) error
		want string // substring of the error; "" for success
	}{
		{"first holder gets it", func(db *DB) error {
			_, prev, err := db.AcquireLease(ctx, "loop/L", a, time.Hour)
			return wantNoPrev(prev, err)
		}, ""},
		{"second holder refused with who holds it", func(db *DB) error { _, _, err := db.AcquireLease(ctx, "loop/L", b, time.Hour); return err }, "held by pid 101 on host node-a"},
		{"holder re-acquires its own", func(db *DB) error {
			_, prev, err := db.AcquireLease(ctx, "loop/L", a, time.Hour)
			return wantNoPrev(prev, err)
		}, ""},
		{"other names are free", func(db *DB) error { _, _, err := db.AcquireLease(ctx, "loop/M", b, time.Hour); return err }, ""},
		{"a stranger cannot renew", func(db *DB) error { _, err := db.RenewLease(ctx, "loop/L", "tok-b", time.Hour); return err }, "lease lost"},
		{"a stranger's release changes nothing", func(db *DB) error {
			if err := db.ReleaseLease(ctx, "loop/L", "tok-b"); err != nil {
				return err
			}
			l, ok, err := db.GetLease(ctx, "loop/L")
			if err != nil || !ok || l.Token != "tok-a" {
				return errors.New("lease gone after a stranger's release")
			}
			return nil
		}, ""},
		{"holder renews", func(db *DB) error { _, err := db.RenewLease(ctx, "loop/L", "tok-a", time.Millisecond); return err }, ""},
		{"expired lease taken over, previous holder reported", func(db *DB) error {
			time.Sleep(5 * time.Millisecond)
			_, prev, err := db.AcquireLease(ctx, "loop/L", b, time.Hour)
			if err != nil {
				return err
			}
			if prev == nil || prev.PID != 101 || prev.Host != "node-a" {
				return errors.New("takeover of an expired lease did not report its previous holder")
			}
			return nil
		}, ""},
		{"old holder's renewal is refused", func(db *DB) error { _, err := db.RenewLease(ctx, "loop/L", "tok-a", time.Hour); return err }, "lease lost"},
		{"release frees it", func(db *DB) error {
			if err := db.ReleaseLease(ctx, "loop/L", "tok-b"); err != nil {
				return err
			}
			_, prev, err := db.AcquireLease(ctx, "loop/L", a, time.Hour)
			return wantNoPrev(prev, err)
		}, ""},
	}
	db := openTest(t)
	for _, s := range steps {
		err := s.do(db)
		switch {
		case s.want == "" && err != nil:
			t.Fatalf("%s: %v", s.name, err)
		case s.want != "" && (err == nil || !strings.Contains(err.Error(), s.want)):
			t.Fatalf("%s: got %v, want an error with %q", s.name, err, s.want)
		}
	}
	var held *store.LeaseHeldError
	if _, _, err := db.AcquireLease(ctx, "loop/L", b, time.Hour); !errors.As(err, &held) || held.Holder.Token != "tok-a" {
		t.Fatalf("want *LeaseHeldError naming tok-a, got %v", err)
	}
}

func wantNoPrev(prev *store.LeaseInfo, err error) error {
	if err == nil && prev != nil {
		return errors.New("reported a previous holder where there was none")
	}
	return err
}

func TestLoopStatus(t *testing.T) {
	now := time.Now()
	live := store.LeaseInfo{Expires: now.Add(time.Minute)}
	dead := store.LeaseInfo{Expires: now.Add(-time.Second)}
	cases := []struct {
		status string
		lease  store.LeaseInfo
		ok     bool
		want   string
	}{
		{"running", live, true, "running"},
		{"running", dead, true, "interrupted"},
		{"running", store.LeaseInfo{}, false, "interrupted"},
		{"done", store.LeaseInfo{}, false, "done"},
	}
	for _, c := range cases {
		if got := store.EffectiveStatus(store.Loop{Status: store.LoopStatus(c.status)}, c.lease, c.ok, now); string(got) != c.want {
			t.Errorf("LoopStatus(%s, ok=%v) = %s, want %s", c.status, c.ok, got, c.want)
		}
	}
}

// TestHold: the helper heartbeats, a second Hold is refused while it
// lives, and losing the lease closes Lost.
func TestHold(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	l, err := store.Hold(ctx, db, "loop/H", store.HoldOptions{TTL: 2 * time.Second, Every: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	first := l.Info().Expires
	deadline := time.Now().Add(10 * time.Second)
	for !l.Info().Expires.After(first) {
		if time.Now().After(deadline) {
			t.Fatal("no heartbeat renewed the lease")
		}
		time.Sleep(5 * time.Millisecond)
	}
	var held *store.LeaseHeldError
	if _, err := store.Hold(ctx, db, "loop/H", store.HoldOptions{}); !errors.As(err, &held) {
		t.Fatalf("second Hold: %v, want *LeaseHeldError", err)
	}
	// Another process steals it (as after an expiry): the heartbeat notices.
	if err := db.ReleaseLease(ctx, "loop/H", l.Info().Token); err != nil {
		t.Fatal(err)
	}
	select {
	case <-l.Lost():
		if !errors.Is(l.Err(), store.ErrLeaseLost) {
			t.Fatalf("Err = %v", l.Err())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Lost not closed after the lease vanished")
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	l2, err := store.Hold(ctx, db, "loop/H", store.HoldOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := l2.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := db.GetLease(ctx, "loop/H"); ok {
		t.Fatal("Release left the lease")
	}
}
