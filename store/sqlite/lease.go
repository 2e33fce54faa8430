package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/nngpt/nngpt/store"
)

// AcquireLease takes name for holder; see store.Leases. The check and the
// write are one immediate transaction, so two processes racing for a free
// lease cannot both get it.
func (db *DB) AcquireLease(ctx context.Context, name string, holder store.LeaseInfo, ttl time.Duration) (store.LeaseInfo, *store.LeaseInfo, error) {
	if name == "" || holder.Token == "" || ttl <= 0 {
		return store.LeaseInfo{}, nil, fmt.Errorf("acquire lease %q: name, token and a positive ttl are required", name)
	}
	now := time.Now()
	got := holder
	got.Name, got.Acquired, got.Heartbeat, got.Expires = name, now, now, now.Add(ttl)
	var prev *store.LeaseInfo
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		cur, ok, err := getLease(ctx, tx, name)
		if err != nil {
			return err
		}
		if ok && cur.Token != holder.Token {
			if !cur.Abandoned(now) {
				return &store.LeaseHeldError{Holder: cur}
			}
			prev = &cur
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO nngpt_lease (name, token, pid, host, acquired, heartbeat, expires)
			VALUES (?,?,?,?,?,?,?) ON CONFLICT (name) DO UPDATE SET token = excluded.token, pid = excluded.pid,
			host = excluded.host, acquired = excluded.acquired, heartbeat = excluded.heartbeat, expires = excluded.expires`,
			name, got.Token, got.PID, got.Host, got.Acquired.UnixNano(), got.Heartbeat.UnixNano(), got.Expires.UnixNano())
		return err
	})
	if err != nil {
		var held *store.LeaseHeldError
		if errors.As(err, &held) {
			return store.LeaseInfo{}, nil, err
		}
		return store.LeaseInfo{}, nil, fmt.Errorf("acquire lease %s: %w", name, err)
	}
	return got, prev, nil
}

// RenewLease extends token's lease on name.
func (db *DB) RenewLease(ctx context.Context, name, token string, ttl time.Duration) (store.LeaseInfo, error) {
	now := time.Now()
	var got store.LeaseInfo
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE nngpt_lease SET heartbeat = ?, expires = ? WHERE name = ? AND token = ?`,
			now.UnixNano(), now.Add(ttl).UnixNano(), name, token)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return store.ErrLeaseLost
		}
		var ok bool
		got, ok, err = getLease(ctx, tx, name)
		if err == nil && !ok {
			err = store.ErrLeaseLost
		}
		return err
	})
	if err != nil {
		return store.LeaseInfo{}, fmt.Errorf("renew lease %s: %w", name, err)
	}
	return got, nil
}

// ReleaseLease deletes token's lease on name.
func (db *DB) ReleaseLease(ctx context.Context, name, token string) error {
	if _, err := db.w.ExecContext(ctx, `DELETE FROM nngpt_lease WHERE name = ? AND token = ?`, name, token); err != nil {
		return fmt.Errorf("release lease %s: %w", name, err)
	}
	return nil
}

// GetLease returns the lease on name.
func (db *DB) GetLease(ctx context.Context, name string) (store.LeaseInfo, bool, error) {
	l, ok, err := getLease(ctx, db.r, name)
	if err != nil {
		return store.LeaseInfo{}, false, fmt.Errorf("read lease %s: %w", name, err)
	}
	return l, ok, nil
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func getLease(ctx context.Context, q querier, name string) (store.LeaseInfo, bool, error) {
	var l store.LeaseInfo
	var acq, hb, exp int64
	err := q.QueryRowContext(ctx, `SELECT name, token, pid, host, acquired, heartbeat, expires FROM nngpt_lease WHERE name = ?`, name).
		Scan(&l.Name, &l.Token, &l.PID, &l.Host, &acq, &hb, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return store.LeaseInfo{}, false, nil
	}
	if err != nil {
		return store.LeaseInfo{}, false, err
	}
	l.Acquired, l.Heartbeat, l.Expires = time.Unix(0, acq), time.Unix(0, hb), time.Unix(0, exp)
	return l, true, nil
}
