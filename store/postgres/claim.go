package postgres

import (
	"context"
	"fmt"
)

// ClaimCode implements store.Claims. The primary key decides: of two
// coordinators claiming at once exactly one inserts the row.
func (db *DB) ClaimCode(ctx context.Context, codeID, holder string) (bool, error) {
	if codeID == "" || holder == "" {
		return false, fmt.Errorf("claim code: code id and holder are required (got %q, %q)", codeID, holder)
	}
	var got string
	err := db.pool.QueryRow(ctx, `WITH ins AS (
			INSERT INTO nngpt_claim (code_id, holder) VALUES ($1, $2) ON CONFLICT (code_id) DO NOTHING RETURNING holder)
		SELECT holder FROM ins UNION ALL SELECT holder FROM nngpt_claim WHERE code_id = $1 LIMIT 1`, codeID, holder).Scan(&got)
	if noRows(err) {
		// The winner committed after this statement's snapshot was taken:
		// a fresh statement sees its row.
		err = db.pool.QueryRow(ctx, `SELECT holder FROM nngpt_claim WHERE code_id = $1`, codeID).Scan(&got)
	}
	if err != nil {
		return false, fmt.Errorf("claim code %s: %w", codeID, err)
	}
	return got == holder, nil
}
