package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/store/internal/rowcodec"
)

const signingCols = `key_id, tenant_id, status, created_at, grace_until, sealed`

func (r *repo) CreateSigningKey(ctx context.Context, k tollgate.SigningKey) error {
	if !r.owns(k.Tenant) {
		return fmt.Errorf("create signing key %q: %w", k.ID, tollgate.ErrNotFound)
	}
	err := r.s.write(ctx, true, func(tx *sql.Tx) error { return insertSigningKey(ctx, tx, k) })
	if err != nil {
		return fmt.Errorf("create signing key %q: %w", k.ID, err)
	}
	return nil
}

func insertSigningKey(ctx context.Context, tx *sql.Tx, k tollgate.SigningKey) error {
	if k.ID == "" || len(k.Sealed) == 0 {
		return fmt.Errorf("id and sealed secret are required")
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO signing_keys (`+signingCols+`) VALUES (?,?,?,?,?,?)`,
		k.ID, k.Tenant, string(k.Status), rowcodec.Nanos(k.CreatedAt), rowcodec.NanosPtr(k.GraceUntil), k.Sealed)
	return mapErr(err)
}

// ListSigningKeys lists tenant's signing keys newest first.
func (r *repo) ListSigningKeys(ctx context.Context, tenant string) ([]tollgate.SigningKey, error) {
	where, a := r.vis()
	rows, err := r.s.r.QueryContext(ctx, `SELECT `+signingCols+` FROM signing_keys WHERE tenant_id = ? AND `+where+
		` ORDER BY created_at DESC, key_id DESC`, args([]any{tenant}, a...)...)
	if err != nil {
		return nil, fmt.Errorf("list signing keys of %q: %w", tenant, err)
	}
	defer rows.Close()
	var out []tollgate.SigningKey
	for rows.Next() {
		var (
			k              tollgate.SigningKey
			created, grace sql.NullInt64
		)
		if err := rows.Scan(&k.ID, &k.Tenant, &k.Status, &created, &grace, &k.Sealed); err != nil {
			return nil, fmt.Errorf("list signing keys of %q: %w", tenant, err)
		}
		k.CreatedAt, k.GraceUntil = rowcodec.Time(created), rowcodec.TimePtr(grace)
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list signing keys of %q: %w", tenant, err)
	}
	return out, nil
}

// RotateSigningKey demotes the current primary (if any) to grace until
// graceUntil and inserts next as the primary, in one write transaction.
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
	err := r.s.write(ctx, true, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM tenants WHERE tenant_id = ?`, tenant).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return tollgate.ErrNotFound
		}
		// No older key may sign beyond the new grace: a rotation with grace
		// 0 after a leak must stop every earlier key, not only the primary.
		if _, err := tx.ExecContext(ctx, `UPDATE signing_keys SET grace_until = ?
			WHERE tenant_id = ? AND status = 'grace' AND grace_until > ?`,
			rowcodec.Nanos(graceUntil), tenant, rowcodec.Nanos(graceUntil)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE signing_keys SET status = 'grace', grace_until = ?
			WHERE tenant_id = ? AND status = 'primary'`, rowcodec.Nanos(graceUntil), tenant); err != nil {
			return err
		}
		return insertSigningKey(ctx, tx, next)
	})
	if err != nil {
		return fmt.Errorf("rotate signing key of %q: %w", tenant, err)
	}
	return nil
}
