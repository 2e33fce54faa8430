package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ClaimCode implements store.Claims.
func (db *DB) ClaimCode(ctx context.Context, codeID, holder string) (bool, error) {
	if codeID == "" || holder == "" {
		return false, fmt.Errorf("claim code: code id and holder are required (got %q, %q)", codeID, holder)
	}
	var got string
	err := db.writeTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO nngpt_claim (code_id, holder, claimed_at) VALUES (?, ?, ?) ON CONFLICT (code_id) DO NOTHING`,
			codeID, holder, fmtTime(time.Now()))
		if err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT holder FROM nngpt_claim WHERE code_id = ?`, codeID).Scan(&got)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return false, fmt.Errorf("claim code %s: the claim vanished", codeID)
	}
	if err != nil {
		return false, fmt.Errorf("claim code %s: %w", codeID, err)
	}
	return got == holder, nil
}
