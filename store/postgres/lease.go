package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nngpt/nngpt/store"
)

// AcquireLease implements store.Leases. The lease row is locked for the
// check and the write, so two coordinators racing for a free lease cannot
// both get it.
func (db *DB) AcquireLease(ctx context.Context, name string, holder store.LeaseInfo, ttl time.Duration) (store.LeaseInfo, *store.LeaseInfo, error) {
	if name == "" || holder.Token == "" || ttl <= 0 {
		return store.LeaseInfo{}, nil, fmt.Errorf("acquire lease %q: name, token and a positive ttl are required", name)
	}
	now := time.Now()
	got := holder
	got.Name, got.Acquired, got.Heartbeat, got.Expires = name, now, now, now.Add(ttl)
	var prev *store.LeaseInfo
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		// Make sure a row exists to lock, then lock it.
		if _, err := tx.Exec(ctx, `INSERT INTO nngpt_lease (name, token, pid, host, acquired, heartbeat, expires)
			VALUES ($1, '', 0, '', 0, 0, 0) ON CONFLICT (name) DO NOTHING`, name); err != nil {
			return err
		}
		cur, ok, err := getLease(ctx, tx, name, " FOR UPDATE")
		if err != nil {
			return err
		}
		if ok && cur.Token != "" && cur.Token != holder.Token {
			if !cur.Abandoned(now) {
				return &store.LeaseHeldError{Holder: cur}
			}
			prev = &cur
		}
		_, err = tx.Exec(ctx, `UPDATE nngpt_lease SET token = $2, pid = $3, host = $4, acquired = $5, heartbeat = $6, expires = $7 WHERE name = $1`,
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
	tag, err := db.pool.Exec(ctx, `UPDATE nngpt_lease SET heartbeat = $1, expires = $2 WHERE name = $3 AND token = $4`,
		now.UnixNano(), now.Add(ttl).UnixNano(), name, token)
	if err != nil {
		return store.LeaseInfo{}, fmt.Errorf("renew lease %s: %w", name, err)
	}
	if tag.RowsAffected() == 0 {
		return store.LeaseInfo{}, fmt.Errorf("renew lease %s: %w", name, store.ErrLeaseLost)
	}
	l, ok, err := getLease(ctx, db.pool, name, "")
	if err == nil && !ok {
		err = store.ErrLeaseLost
	}
	if err != nil {
		return store.LeaseInfo{}, fmt.Errorf("renew lease %s: %w", name, err)
	}
	return l, nil
}

// ReleaseLease deletes token's lease on name.
func (db *DB) ReleaseLease(ctx context.Context, name, token string) error {
	if _, err := db.pool.Exec(ctx, `DELETE FROM nngpt_lease WHERE name = $1 AND token = $2`, name, token); err != nil {
		return fmt.Errorf("release lease %s: %w", name, err)
	}
	return nil
}

// GetLease returns the lease on name.
func (db *DB) GetLease(ctx context.Context, name string) (store.LeaseInfo, bool, error) {
	l, ok, err := getLease(ctx, db.pool, name, "")
	if err != nil {
		return store.LeaseInfo{}, false, fmt.Errorf("read lease %s: %w", name, err)
	}
	return l, ok, nil
}

type rowQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func getLease(ctx context.Context, q rowQuerier, name, lock string) (store.LeaseInfo, bool, error) {
	var l store.LeaseInfo
	var acq, hb, exp int64
	err := q.QueryRow(ctx, `SELECT name, token, pid, host, acquired, heartbeat, expires FROM nngpt_lease WHERE name = $1`+lock, name).
		Scan(&l.Name, &l.Token, &l.PID, &l.Host, &acq, &hb, &exp)
	if noRows(err) {
		return store.LeaseInfo{}, false, nil
	}
	if err != nil {
		return store.LeaseInfo{}, false, err
	}
	if l.Token == "" { // the placeholder of a lease being taken
		return store.LeaseInfo{}, false, nil
	}
	l.Acquired, l.Heartbeat, l.Expires = time.Unix(0, acq), time.Unix(0, hb), time.Unix(0, exp)
	return l, true, nil
}
