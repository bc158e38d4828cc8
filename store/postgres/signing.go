package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tollgate-dev/tollgate"
)

const signingCols = `key_id, tenant_id, status, created_at, grace_until, sealed`

func (r *repo) CreateSigningKey(ctx context.Context, k tollgate.SigningKey) error {
	if !r.owns(k.Tenant) {
		return fmt.Errorf("create signing key %q: %w", k.ID, tollgate.ErrNotFound)
	}
	err := r.s.tx(ctx, r.sc, true, func(tx pgx.Tx) error { return insertSigningKey(ctx, tx, k) })
	if err != nil {
		return fmt.Errorf("create signing key %q: %w", k.ID, err)
	}
	return nil
}

func insertSigningKey(ctx context.Context, tx pgx.Tx, k tollgate.SigningKey) error {
	if k.ID == "" || len(k.Sealed) == 0 {
		return fmt.Errorf("id and sealed secret are required")
	}
	_, err := tx.Exec(ctx, `INSERT INTO signing_keys (`+signingCols+`) VALUES ($1, $2, $3, $4, $5, $6)`,
		k.ID, k.Tenant, string(k.Status), ts(k.CreatedAt), tsPtr(k.GraceUntil), k.Sealed)
	return mapErr(err)
}

// ListSigningKeys lists tenant's signing keys newest first.
func (r *repo) ListSigningKeys(ctx context.Context, tenant string) ([]tollgate.SigningKey, error) {
	var out []tollgate.SigningKey
	err := r.s.tx(ctx, r.sc, false, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+signingCols+` FROM signing_keys WHERE tenant_id = $1
			ORDER BY created_at DESC, key_id DESC`, tenant)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (tollgate.SigningKey, error) {
			var (
				k              tollgate.SigningKey
				created, grace *time.Time
			)
			err := row.Scan(&k.ID, &k.Tenant, &k.Status, &created, &grace, &k.Sealed)
			k.CreatedAt, k.GraceUntil = utc(created), utcPtr(grace)
			return k, err
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list signing keys of %q: %w", tenant, err)
	}
	return out, nil
}

// RotateSigningKey locks the tenant row (so rotations of one tenant run one
// after the other), demotes the primary to grace until graceUntil and
// inserts next as primary.
func (r *repo) RotateSigningKey(ctx context.Context, tenant string, next tollgate.SigningKey, graceUntil time.Time) error {
	if next.Tenant == "" {
		next.Tenant = tenant
	}
	if next.Tenant != tenant {
		return fmt.Errorf("rotate signing key of %q: key belongs to %q", tenant, next.Tenant)
	}
	if !r.owns(tenant) {
		return fmt.Errorf("rotate signing key of %q: %w", tenant, tollgate.ErrNotFound)
	}
	next.Status = tollgate.SigningPrimary
	err := r.s.tx(ctx, r.sc, true, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `SELECT 1 FROM tenants WHERE tenant_id = $1 FOR UPDATE`, tenant)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return tollgate.ErrNotFound
		}
		// No older key may sign beyond the new grace: a rotation with grace
		// 0 after a leak must stop every earlier key, not only the primary.
		if _, err := tx.Exec(ctx, `UPDATE signing_keys SET grace_until = $2
			WHERE tenant_id = $1 AND status = 'grace' AND grace_until > $2`, tenant, ts(graceUntil)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE signing_keys SET status = 'grace', grace_until = $2
			WHERE tenant_id = $1 AND status = 'primary'`, tenant, ts(graceUntil)); err != nil {
			return err
		}
		return insertSigningKey(ctx, tx, next)
	})
	if err != nil {
		return fmt.Errorf("rotate signing key of %q: %w", tenant, err)
	}
	return nil
}
