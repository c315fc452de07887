package postgres

import (
	"context"
	"database/sql"
	"errors"

	"hotline/internal/store"
)

var _ store.KeyVault = (*Store)(nil)

// PutSealedKeys implements store.KeyVault: one row (migration 014),
// written under the fence like every other write.
func (s *Store) PutSealedKeys(ctx context.Context, sealed []byte) error {
	if len(sealed) == 0 {
		return errors.New("storing the sealed keys: nothing to store")
	}
	tx, err := s.DB().BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := s.fence(ctx, tx); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO sealed_keys (id, sealed) VALUES (1, $1)
		ON CONFLICT (id) DO UPDATE SET sealed = excluded.sealed`, sealed); err != nil {
		return err
	}
	return tx.Commit()
}

// SealedKeys implements store.KeyVault.
func (s *Store) SealedKeys(ctx context.Context) ([]byte, error) {
	var b []byte
	err := s.DB().QueryRowContext(ctx, `SELECT sealed FROM sealed_keys WHERE id = 1`).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return b, err
}
