package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/store/internal/rowcodec"
)

// repo is a Repo either for one tenant or for the admin path.
type repo struct {
	s      *Store
	admin  bool
	tenant string
}

// vis is the visibility predicate for tenant-owned tables. Platform rows
// (empty tenant_id) are never visible to a scoped repo, even Scoped("").
func (r *repo) vis() (string, []any) {
	if r.admin {
		return "1 = 1", nil
	}
	return "(tenant_id = ? AND tenant_id <> '')", []any{r.tenant}
}

// owns reports whether a scoped repo may touch rows of tenant.
func (r *repo) owns(tenant string) bool {
	return r.admin || (tenant != "" && tenant == r.tenant)
}

func args(a []any, more ...any) []any { return append(append([]any(nil), a...), more...) }

const tenantCols = `tenant_id, name, status, mode, sign, signing_scope, policy, quotas, declarative, created_at, updated_at`

func scanTenant(row interface{ Scan(...any) error }) (tollgate.Tenant, error) {
	var (
		t               tollgate.Tenant
		policy, quotas  string
		sign, decl      int64
		created, update sql.NullInt64
	)
	if err := row.Scan(&t.ID, &t.Name, &t.Status, &t.Mode, &sign, &t.SigningScope, &policy, &quotas, &decl, &created, &update); err != nil {
		return t, err
	}
	var err error
	if t.Policy, err = rowcodec.Policy(policy); err != nil {
		return t, fmt.Errorf("tenant %q: %w", t.ID, err)
	}
	if t.Quotas, err = rowcodec.Quotas(quotas); err != nil {
		return t, fmt.Errorf("tenant %q: %w", t.ID, err)
	}
	t.Sign, t.Declarative = sign != 0, decl != 0
	t.CreatedAt, t.UpdatedAt = rowcodec.Time(created), rowcodec.Time(update)
	return t, nil
}

func tenantValues(t tollgate.Tenant) ([]any, error) {
	policy, err := rowcodec.JSON(t.Policy)
	if err != nil {
		return nil, err
	}
	quotas, err := rowcodec.JSON(t.Quotas)
	if err != nil {
		return nil, err
	}
	return []any{t.ID, t.Name, string(t.Status), string(t.Mode), boolInt(t.Sign), string(t.SigningScope),
		policy, quotas, boolInt(t.Declarative), rowcodec.Nanos(t.CreatedAt), rowcodec.Nanos(t.UpdatedAt)}, nil
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func (r *repo) CreateTenant(ctx context.Context, t tollgate.Tenant) error {
	if !tollgate.ValidTenantID(t.ID) {
		return fmt.Errorf("create tenant %q: invalid tenant id", t.ID)
	}
	if !r.owns(t.ID) {
		return fmt.Errorf("create tenant %q: %w", t.ID, tollgate.ErrNotFound)
	}
	vals, err := tenantValues(t)
	if err != nil {
		return fmt.Errorf("create tenant %q: %w", t.ID, err)
	}
	err = r.s.write(ctx, true, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO tenants (`+tenantCols+`) VALUES (?,?,?,?,?,?,?,?,?,?,?)`, vals...)
		return mapErr(err)
	})
	if err != nil {
		return fmt.Errorf("create tenant %q: %w", t.ID, err)
	}
	return nil
}

func (r *repo) GetTenant(ctx context.Context, id string) (tollgate.Tenant, error) {
	where, a := r.vis()
	t, err := scanTenant(r.s.r.QueryRowContext(ctx, `SELECT `+tenantCols+` FROM tenants WHERE tenant_id = ? AND `+where, args([]any{id}, a...)...))
	if errors.Is(err, sql.ErrNoRows) {
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
	where, a := r.vis()
	rows, err := r.s.r.QueryContext(ctx, `SELECT `+tenantCols+` FROM tenants WHERE tenant_id > ? AND `+where+
		` ORDER BY tenant_id LIMIT ?`, args(args([]any{after}, a...), sqlLimit(p.Limit))...)
	if err != nil {
		return nil, "", fmt.Errorf("list tenants: %w", err)
	}
	defer rows.Close()
	var out []tollgate.Tenant
	for rows.Next() {
		t, err := scanTenant(rows)
		if err != nil {
			return nil, "", fmt.Errorf("list tenants: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list tenants: %w", err)
	}
	out, more := trim(out, p.Limit)
	if more {
		return out, rowcodec.EncodeCursor("tenants", out[len(out)-1].ID), nil
	}
	return out, "", nil
}

// sqlLimit asks for one row more than the page so that a full last page
// does not hand out a cursor to an empty page; -1 is SQLite's "no limit".
func sqlLimit(limit int) int {
	if limit == 0 {
		return -1
	}
	return limit + 1
}

func trim[T any](rows []T, limit int) ([]T, bool) {
	if limit > 0 && len(rows) > limit {
		return rows[:limit], true
	}
	return rows, false
}

func (r *repo) UpdateTenant(ctx context.Context, t tollgate.Tenant) error {
	vals, err := tenantValues(t)
	if err != nil {
		return fmt.Errorf("update tenant %q: %w", t.ID, err)
	}
	where, a := r.vis()
	err = r.s.write(ctx, true, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE tenants SET name = ?, status = ?, mode = ?, sign = ?, signing_scope = ?,
			policy = ?, quotas = ?, declarative = ?, updated_at = ? WHERE tenant_id = ? AND `+where,
			args(append(vals[1:9:9], vals[10], t.ID), a...)...)
		return affected(res, err)
	})
	if err != nil {
		return fmt.Errorf("update tenant %q: %w", t.ID, err)
	}
	return nil
}

// affected maps "no row matched" to ErrNotFound.
func affected(res sql.Result, err error) error {
	if err != nil {
		return mapErr(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return tollgate.ErrNotFound
	}
	return nil
}

func (r *repo) DeleteTenant(ctx context.Context, id string, at time.Time) error {
	if !r.owns(id) {
		return fmt.Errorf("delete tenant %q: %w", id, tollgate.ErrNotFound)
	}
	err := r.s.write(ctx, true, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM signing_keys WHERE tenant_id = ?`, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE api_keys SET status = 'revoked', revoked_at = coalesce(revoked_at, ?)
			WHERE tenant_id = ? AND tenant_id <> ''`, rowcodec.Nanos(at), id); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM tenants WHERE tenant_id = ?`, id)
		return affected(res, err)
	})
	if err != nil {
		return fmt.Errorf("delete tenant %q: %w", id, err)
	}
	return nil
}
