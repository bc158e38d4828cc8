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

const keyCols = `key_id, tenant_id, hash, scopes, description, allowed_ips, status, expires_at, created_at, last_used_at, revoked_at`

func scanKey(row interface{ Scan(...any) error }) (tollgate.APIKey, error) {
	var (
		k                              tollgate.APIKey
		scopes, ips                    string
		exp, created, lastUsed, revokd sql.NullInt64
	)
	if err := row.Scan(&k.ID, &k.Tenant, &k.Hash, &scopes, &k.Description, &ips, &k.Status, &exp, &created, &lastUsed, &revokd); err != nil {
		return k, err
	}
	var err error
	if k.Scopes, err = rowcodec.Scopes(scopes); err != nil {
		return k, fmt.Errorf("key %q: %w", k.ID, err)
	}
	if k.AllowedIPs, err = rowcodec.Prefixes(ips); err != nil {
		return k, fmt.Errorf("key %q: %w", k.ID, err)
	}
	k.ExpiresAt, k.LastUsedAt, k.RevokedAt = rowcodec.TimePtr(exp), rowcodec.TimePtr(lastUsed), rowcodec.TimePtr(revokd)
	k.CreatedAt = rowcodec.Time(created)
	return k, nil
}

func (r *repo) CreateKey(ctx context.Context, k tollgate.APIKey) error {
	if !r.owns(k.Tenant) {
		return fmt.Errorf("create key %q: %w", k.ID, tollgate.ErrNotFound)
	}
	if k.ID == "" || len(k.Hash) == 0 {
		return fmt.Errorf("create key %q: id and hash are required", k.ID)
	}
	scopes, err := rowcodec.JSON(k.Scopes)
	if err != nil {
		return fmt.Errorf("create key %q: %w", k.ID, err)
	}
	ips, err := rowcodec.JSON(k.AllowedIPs)
	if err != nil {
		return fmt.Errorf("create key %q: %w", k.ID, err)
	}
	err = r.s.write(ctx, true, func(tx *sql.Tx) error {
		if k.Tenant != "" {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM tenants WHERE tenant_id = ?`, k.Tenant).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				return fmt.Errorf("tenant %q: %w", k.Tenant, tollgate.ErrNotFound)
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO api_keys (`+keyCols+`) VALUES (?,?,?,?,?,?,?,?,?,?,?)`,
			k.ID, k.Tenant, k.Hash, scopes, k.Description, ips, string(k.Status),
			rowcodec.NanosPtr(k.ExpiresAt), rowcodec.Nanos(k.CreatedAt), rowcodec.NanosPtr(k.LastUsedAt), rowcodec.NanosPtr(k.RevokedAt))
		return mapErr(err)
	})
	if err != nil {
		return fmt.Errorf("create key %q: %w", k.ID, err)
	}
	return nil
}

func (r *repo) GetKey(ctx context.Context, id string) (tollgate.APIKey, error) {
	where, a := r.vis()
	k, err := scanKey(r.s.r.QueryRowContext(ctx, `SELECT `+keyCols+` FROM api_keys WHERE key_id = ? AND `+where, args([]any{id}, a...)...))
	if errors.Is(err, sql.ErrNoRows) {
		return k, fmt.Errorf("get key %q: %w", id, tollgate.ErrNotFound)
	}
	if err != nil {
		return k, fmt.Errorf("get key %q: %w", id, err)
	}
	return k, nil
}

func (r *repo) ListKeys(ctx context.Context, tenant string, p tollgate.Page) ([]tollgate.APIKey, string, error) {
	after, _, err := rowcodec.DecodeCursor("keys", p.Cursor)
	if err != nil {
		return nil, "", fmt.Errorf("list keys of %q: %w", tenant, err)
	}
	if p.Limit < 0 {
		return nil, "", fmt.Errorf("list keys of %q: negative limit %d", tenant, p.Limit)
	}
	where, a := r.vis()
	out, err := r.queryKeys(ctx, `SELECT `+keyCols+` FROM api_keys WHERE tenant_id = ? AND key_id > ? AND `+where+
		` ORDER BY key_id LIMIT ?`, args(args([]any{tenant, after}, a...), sqlLimit(p.Limit))...)
	if err != nil {
		return nil, "", fmt.Errorf("list keys of %q: %w", tenant, err)
	}
	out, more := trim(out, p.Limit)
	if more {
		return out, rowcodec.EncodeCursor("keys", out[len(out)-1].ID), nil
	}
	return out, "", nil
}

func (r *repo) AllKeys(ctx context.Context) ([]tollgate.APIKey, error) {
	where, a := r.vis()
	out, err := r.queryKeys(ctx, `SELECT `+keyCols+` FROM api_keys WHERE `+where+` ORDER BY key_id`, a...)
	if err != nil {
		return nil, fmt.Errorf("all keys: %w", err)
	}
	return out, nil
}

func (r *repo) queryKeys(ctx context.Context, q string, a ...any) ([]tollgate.APIKey, error) {
	rows, err := r.s.r.QueryContext(ctx, q, a...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []tollgate.APIKey
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

func (r *repo) UpdateKey(ctx context.Context, k tollgate.APIKey) error {
	scopes, err := rowcodec.JSON(k.Scopes)
	if err != nil {
		return fmt.Errorf("update key %q: %w", k.ID, err)
	}
	ips, err := rowcodec.JSON(k.AllowedIPs)
	if err != nil {
		return fmt.Errorf("update key %q: %w", k.ID, err)
	}
	where, a := r.vis()
	err = r.s.write(ctx, true, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE api_keys SET status = ?, expires_at = ?, revoked_at = ?, description = ?,
			scopes = ?, allowed_ips = ? WHERE key_id = ? AND `+where,
			args([]any{string(k.Status), rowcodec.NanosPtr(k.ExpiresAt), rowcodec.NanosPtr(k.RevokedAt), k.Description,
				scopes, ips, k.ID}, a...)...)
		return affected(res, err)
	})
	if err != nil {
		return fmt.Errorf("update key %q: %w", k.ID, err)
	}
	return nil
}

// TouchKeys updates last_used_at in one transaction with one prepared
// statement; it only moves a time forward, so a late flush from a slow
// replica cannot undo a newer one. Unknown or invisible ids are ignored.
func (r *repo) TouchKeys(ctx context.Context, lastUsed map[string]time.Time) error {
	if len(lastUsed) == 0 {
		return nil
	}
	where, a := r.vis()
	err := r.s.write(ctx, false, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `UPDATE api_keys SET last_used_at = ?
			WHERE key_id = ? AND (last_used_at IS NULL OR last_used_at < ?) AND `+where)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for id, at := range lastUsed {
			n := rowcodec.Nanos(at)
			if _, err := stmt.ExecContext(ctx, args([]any{n, id, n}, a...)...); err != nil {
				return fmt.Errorf("key %q: %w", id, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("touch keys: %w", err)
	}
	return nil
}
