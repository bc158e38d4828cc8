package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/store/internal/rowcodec"
)

// repo is a Repo running as tollgate_admin or as tollgate_app for one
// tenant. Visibility is left to row-level security; Go only checks what it
// must to return ErrNotFound instead of a policy violation.
type repo struct {
	s  *Store
	sc scope
}

func (r *repo) owns(tenant string) bool {
	return r.sc.admin || (tenant != "" && tenant == r.sc.tenant)
}

const tenantCols = `tenant_id, name, status, mode, sign, signing_scope, policy, quotas, declarative, created_at, updated_at`

func scanTenant(row pgx.Row) (tollgate.Tenant, error) {
	var (
		t               tollgate.Tenant
		policy, quotas  string
		created, update *time.Time
	)
	if err := row.Scan(&t.ID, &t.Name, &t.Status, &t.Mode, &t.Sign, &t.SigningScope, &policy, &quotas, &t.Declarative, &created, &update); err != nil {
		return t, err
	}
	var err error
	if t.Policy, err = rowcodec.Policy(policy); err != nil {
		return t, fmt.Errorf("tenant %q: %w", t.ID, err)
	}
	if t.Quotas, err = rowcodec.Quotas(quotas); err != nil {
		return t, fmt.Errorf("tenant %q: %w", t.ID, err)
	}
	t.CreatedAt, t.UpdatedAt = utc(created), utc(update)
	return t, nil
}

// ts stores the zero time as NULL, like the SQLite store.
func ts(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func tsPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	return ts(*t)
}

func utc(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// limit asks for one row more than the page; NULL is LIMIT ALL.
func limit(n int) any {
	if n == 0 {
		return nil
	}
	return n + 1
}

func trim[T any](rows []T, limit int) ([]T, bool) {
	if limit > 0 && len(rows) > limit {
		return rows[:limit], true
	}
	return rows, false
}

func tenantArgs(t tollgate.Tenant) ([]any, error) {
	policy, err := rowcodec.JSON(t.Policy)
	if err != nil {
		return nil, err
	}
	quotas, err := rowcodec.JSON(t.Quotas)
	if err != nil {
		return nil, err
	}
	return []any{t.ID, t.Name, string(t.Status), string(t.Mode), t.Sign, string(t.SigningScope),
		policy, quotas, t.Declarative, ts(t.CreatedAt), ts(t.UpdatedAt)}, nil
}

func (r *repo) CreateTenant(ctx context.Context, t tollgate.Tenant) error {
	if !tollgate.ValidTenantID(t.ID) {
		return fmt.Errorf("create tenant %q: invalid tenant id", t.ID)
	}
	if !r.owns(t.ID) {
		return fmt.Errorf("create tenant %q: %w", t.ID, tollgate.ErrNotFound)
	}
	a, err := tenantArgs(t)
	if err != nil {
		return fmt.Errorf("create tenant %q: %w", t.ID, err)
	}
	err = r.s.tx(ctx, r.sc, true, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO tenants (`+tenantCols+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9, $10, $11)`, a...)
		return mapErr(err)
	})
	if err != nil {
		return fmt.Errorf("create tenant %q: %w", t.ID, err)
	}
	return nil
}

func (r *repo) GetTenant(ctx context.Context, id string) (tollgate.Tenant, error) {
	var t tollgate.Tenant
	err := r.s.tx(ctx, r.sc, false, func(tx pgx.Tx) error {
		var err error
		t, err = scanTenant(tx.QueryRow(ctx, `SELECT `+tenantCols+` FROM tenants WHERE tenant_id = $1`, id))
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return t, fmt.Errorf("get tenant %q: %w", id, tollgate.ErrNotFound)
	}
	if err != nil {
		return t, fmt.Errorf("get tenant %q: %w", id, err)
	}
	return t, nil
}

func (r *repo) ListTenants(ctx context.Context, p tollgate.Page) ([]tollgate.Tenant, string, error) {
	after, _, err := rowcodec.DecodeCursor("tenants", p.Cursor)
	if err != nil {
		return nil, "", fmt.Errorf("list tenants: %w", err)
	}
	if p.Limit < 0 {
		return nil, "", fmt.Errorf("list tenants: negative limit %d", p.Limit)
	}
	var out []tollgate.Tenant
	err = r.s.tx(ctx, r.sc, false, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+tenantCols+` FROM tenants WHERE tenant_id > $1 ORDER BY tenant_id LIMIT $2`, after, limit(p.Limit))
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (tollgate.Tenant, error) { return scanTenant(row) })
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("list tenants: %w", err)
	}
	out, more := trim(out, p.Limit)
	if more {
		return out, rowcodec.EncodeCursor("tenants", out[len(out)-1].ID), nil
	}
	return out, "", nil
}

func (r *repo) UpdateTenant(ctx context.Context, t tollgate.Tenant) error {
	a, err := tenantArgs(t)
	if err != nil {
		return fmt.Errorf("update tenant %q: %w", t.ID, err)
	}
	err = r.s.tx(ctx, r.sc, true, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE tenants SET name = $2, status = $3, mode = $4, sign = $5, signing_scope = $6,
			policy = $7::jsonb, quotas = $8::jsonb, declarative = $9, updated_at = $10 WHERE tenant_id = $1`,
			a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[10])
		if err != nil {
			return mapErr(err)
		}
		if tag.RowsAffected() == 0 {
			return tollgate.ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("update tenant %q: %w", t.ID, err)
	}
	return nil
}

func (r *repo) DeleteTenant(ctx context.Context, id string, at time.Time) error {
	if !r.owns(id) {
		return fmt.Errorf("delete tenant %q: %w", id, tollgate.ErrNotFound)
	}
	err := r.s.tx(ctx, r.sc, true, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM signing_keys WHERE tenant_id = $1`, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE api_keys SET status = 'revoked', revoked_at = coalesce(revoked_at, $2)
			WHERE tenant_id = $1 AND tenant_id <> ''`, id, ts(at)); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM tenants WHERE tenant_id = $1`, id)
		if err != nil {
			return mapErr(err)
		}
		if tag.RowsAffected() == 0 {
			return tollgate.ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete tenant %q: %w", id, err)
	}
	return nil
}
