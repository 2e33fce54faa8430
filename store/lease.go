package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"syscall"
	"time"
)

// A lease makes one process the only writer of a loop (or anything else
// named): it records who holds it (process id, host, a random token per
// acquisition) and until when. The holder renews it with a heartbeat; a
// holder that died stops renewing, its lease expires, and the next process
// takes it over and treats what the dead one left running as interrupted
// (Optuna's heartbeat and stale-trial handling work the same way).

// LeaseInfo is one held lease.
type LeaseInfo struct {
	Name      string    `json:"name"`  // what is leased, e.g. "loop/<id>"
	Token     string    `json:"token"` // random per acquisition: only its holder can renew or release
	PID       int       `json:"pid"`
	Host      string    `json:"host"`
	Acquired  time.Time `json:"acquired"`
	Heartbeat time.Time `json:"heartbeat"` // last renewal
	Expires   time.Time `json:"expires"`
}

// Expired reports whether the lease ran out at now.
func (l LeaseInfo) Expired(now time.Time) bool { return !now.Before(l.Expires) }

// Abandoned reports a lease nobody holds any more: expired, or held by a
// process of this host that no longer exists (a coordinator killed with
// SIGKILL need not be waited for).
func (l LeaseInfo) Abandoned(now time.Time) bool {
	if l.Expired(now) {
		return true
	}
	host, err := os.Hostname()
	if err != nil || host != l.Host || l.PID <= 0 {
		return false
	}
	return errors.Is(syscall.Kill(l.PID, 0), syscall.ESRCH)
}

func (l LeaseInfo) String() string {
	return fmt.Sprintf("pid %d on host %s (acquired %s, last heartbeat %s, expires %s)", l.PID, l.Host,
		l.Acquired.UTC().Format(time.RFC3339), l.Heartbeat.UTC().Format(time.RFC3339), l.Expires.UTC().Format(time.RFC3339))
}

// LeaseHeldError is returned when another holder's lease is still live.
type LeaseHeldError struct {
	Holder LeaseInfo
}

func (e *LeaseHeldError) Error() string {
	return fmt.Sprintf("%s is held by %s: another nngpt is writing it; stop that process, or wait until its lease expires if it died",
		e.Holder.Name, e.Holder)
}

// ErrLeaseLost: the lease is no longer the caller's (it expired and another
// process took it over, or it was released).
var ErrLeaseLost = errors.New("lease lost")

// Leases are the store's leases (table nngpt_lease).
type Leases interface {
	// AcquireLease takes the lease name for ttl as holder (Token, PID and
	// Host set; the times are filled in). It fails with *LeaseHeldError
	// while another holder's lease is live. When it took over an expired
	// lease, prev is that lease: whatever its holder left running was
	// interrupted.
	AcquireLease(ctx context.Context, name string, holder LeaseInfo, ttl time.Duration) (got LeaseInfo, prev *LeaseInfo, err error)
	// RenewLease extends the caller's lease to now+ttl; ErrLeaseLost when
	// token no longer holds it.
	RenewLease(ctx context.Context, name, token string, ttl time.Duration) (LeaseInfo, error)
	// ReleaseLease gives the lease up (nothing happens when token does not
	// hold it).
	ReleaseLease(ctx context.Context, name, token string) error
	// GetLease returns the lease on name, live or expired; ok is false when
	// there is none.
	GetLease(ctx context.Context, name string) (l LeaseInfo, ok bool, err error)
}

// LoopLease is the lease name of a loop.
func LoopLease(loopID string) string { return "loop/" + loopID }

// EffectiveStatus is what a loop's status means given its lease: a loop
// recorded as running whose lease is gone or expired is interrupted (its
// coordinator died without saying so).
func EffectiveStatus(l Loop, lease LeaseInfo, ok bool, now time.Time) LoopStatus {
	if l.Status == LoopRunning && (!ok || lease.Abandoned(now)) {
		return LoopInterrupted
	}
	return l.Status
}

// HoldOptions configure Hold.
type HoldOptions struct {
	// TTL is how long the lease lives without a heartbeat; 0: 30 s.
	TTL time.Duration
	// Every is the heartbeat period; 0: TTL/3.
	Every  time.Duration
	Logger *slog.Logger
}

// Lease is a lease held by this process, renewed in a goroutine until
// Release.
type Lease struct {
	st   Leases
	info LeaseInfo
	// Prev is the expired lease this one took over (nil when none).
	Prev *LeaseInfo

	lost    chan struct{}
	stop    chan struct{}
	done    chan struct{}
	mu      sync.Mutex
	lostErr error
	once    sync.Once
}

// NewHolder describes this process as a lease holder: its pid, host name
// and a fresh random token.
func NewHolder() LeaseInfo {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return LeaseInfo{Token: hex.EncodeToString(b), PID: os.Getpid(), Host: host}
}

// Hold acquires the lease name for this process and heartbeats it until
// Release. A second process gets *LeaseHeldError naming the holder. When a
// renewal finds the lease gone, Lost is closed: the caller must stop
// writing, since another process may now own what it was writing.
func Hold(ctx context.Context, st Leases, name string, o HoldOptions) (*Lease, error) {
	ttl := o.TTL
	if ttl <= 0 {
		ttl = 30 * time.Second
	}
	every := o.Every
	if every <= 0 {
		every = ttl / 3
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	info, prev, err := st.AcquireLease(ctx, name, NewHolder(), ttl)
	if err != nil {
		return nil, err
	}
	if prev != nil {
		log.Warn("took over an expired lease: its holder died or hung", "name", name, "previous", prev.String())
	}
	l := &Lease{st: st, info: info, Prev: prev, lost: make(chan struct{}), stop: make(chan struct{}), done: make(chan struct{})}
	go l.beat(ttl, every, log)
	return l, nil
}

func (l *Lease) beat(ttl, every time.Duration, log *slog.Logger) {
	defer close(l.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), every)
		info, err := l.st.RenewLease(ctx, l.info.Name, l.info.Token, ttl)
		cancel()
		switch {
		case err == nil:
			l.mu.Lock()
			l.info = info
			l.mu.Unlock()
		case errors.Is(err, ErrLeaseLost):
			l.markLost(err)
			return
		default:
			// A busy or briefly unreachable store: try again next beat; the
			// lease only expires after ttl without one.
			log.Warn("lease heartbeat failed", "name", l.info.Name, "err", err)
			l.mu.Lock()
			expired := l.info.Expired(time.Now())
			l.mu.Unlock()
			if expired {
				l.markLost(fmt.Errorf("%w: no heartbeat reached the store before it expired: %v", ErrLeaseLost, err))
				return
			}
		}
	}
}

func (l *Lease) markLost(err error) {
	l.once.Do(func() {
		l.mu.Lock()
		l.lostErr = err
		l.mu.Unlock()
		close(l.lost)
	})
}

// Info is the lease as last renewed.
func (l *Lease) Info() LeaseInfo {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.info
}

// Lost is closed when the lease was lost; Err says why.
func (l *Lease) Lost() <-chan struct{} { return l.lost }

// Err is why the lease was lost (nil while it is held).
func (l *Lease) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lostErr
}

// Release stops the heartbeat and gives the lease up.
func (l *Lease) Release(ctx context.Context) error {
	select {
	case <-l.stop:
		return nil
	default:
		close(l.stop)
	}
	<-l.done
	return l.st.ReleaseLease(ctx, l.info.Name, l.info.Token)
}
