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

const keyCols = `key_id, tenant_id, hash, scopes, description, allowed_ips, status, expires_at, created_at, last_used_at, revoked_at`

func scanKey(row pgx.Row) (tollgate.APIKey, error) {
	var (
		k                                tollgate.APIKey
		scopes, ips                      string
		exp, created, lastUsed, revokedA *time.Time
	)
	if err := row.Scan(&k.ID, &k.Tenant, &k.Hash, &scopes, &k.Description, &ips, &k.Status, &exp, &created, &lastUsed, &revokedA); err != nil {
		return k, err
	}
	var err error
	if k.Scopes, err = rowcodec.Scopes(scopes); err != nil {
		return k, fmt.Errorf("key %q: %w", k.ID, err)
	}
	if k.AllowedIPs, err = rowcodec.Prefixes(ips); err != nil {
		return k, fmt.Errorf("key %q: %w", k.ID, err)
	}
	k.ExpiresAt, k.LastUsedAt, k.RevokedAt, k.CreatedAt = utcPtr(exp), utcPtr(lastUsed), utcPtr(revokedA), utc(created)
	return k, nil
}

func collectKeys(rows pgx.Rows) ([]tollgate.APIKey, error) {
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (tollgate.APIKey, error) { return scanKey(row) })
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
	err = r.s.tx(ctx, r.sc, true, func(tx pgx.Tx) error {
		if k.Tenant != "" {
			var ok bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM tenants WHERE tenant_id = $1)`, k.Tenant).Scan(&ok); err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("tenant %q: %w", k.Tenant, tollgate.ErrNotFound)
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO api_keys (`+keyCols+`) VALUES ($1, $2, $3, $4::jsonb, $5, $6::jsonb, $7, $8, $9, $10, $11)`,
			k.ID, k.Tenant, k.Hash, scopes, k.Description, ips, string(k.Status),
			tsPtr(k.ExpiresAt), ts(k.CreatedAt), tsPtr(k.LastUsedAt), tsPtr(k.RevokedAt))
		return mapErr(err)
	})
	if err != nil {
		return fmt.Errorf("create key %q: %w", k.ID, err)
	}
	return nil
}

func (r *repo) GetKey(ctx context.Context, id string) (tollgate.APIKey, error) {
	var k tollgate.APIKey
	err := r.s.tx(ctx, r.sc, false, func(tx pgx.Tx) error {
		var err error
		k, err = scanKey(tx.QueryRow(ctx, `SELECT `+keyCols+` FROM api_keys WHERE key_id = $1`, id))
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
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
	var out []tollgate.APIKey
	err = r.s.tx(ctx, r.sc, false, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+keyCols+` FROM api_keys WHERE tenant_id = $1 AND key_id > $2
			ORDER BY key_id LIMIT $3`, tenant, after, limit(p.Limit))
		if err != nil {
			return err
		}
		out, err = collectKeys(rows)
		return err
	})
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
	var out []tollgate.APIKey
	err := r.s.tx(ctx, r.sc, false, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+keyCols+` FROM api_keys ORDER BY key_id`)
		if err != nil {
			return err
		}
		out, err = collectKeys(rows)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("all keys: %w", err)
	}
	return out, nil
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
	err = r.s.tx(ctx, r.sc, true, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE api_keys SET status = $2, expires_at = $3, revoked_at = $4, description = $5,
			scopes = $6::jsonb, allowed_ips = $7::jsonb WHERE key_id = $1`,
			k.ID, string(k.Status), tsPtr(k.ExpiresAt), tsPtr(k.RevokedAt), k.Description, scopes, ips)
		if err != nil {
			return mapErr(err)
		}
		if tag.RowsAffected() == 0 {
			return tollgate.ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("update key %q: %w", k.ID, err)
	}
	return nil
}

// TouchKeys updates last_used_at of every listed key in one statement and
// only ever forwards. It does not notify: touches are not configuration.
func (r *repo) TouchKeys(ctx context.Context, lastUsed map[string]time.Time) error {
	if len(lastUsed) == 0 {
		return nil
	}
	ids := make([]string, 0, len(lastUsed))
	times := make([]time.Time, 0, len(lastUsed))
	for id, at := range lastUsed {
		ids, times = append(ids, id), append(times, at)
	}
	err := r.s.tx(ctx, r.sc, false, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE api_keys k SET last_used_at = v.at
			FROM unnest($1::text[], $2::timestamptz[]) AS v(id, at)
			WHERE k.key_id = v.id AND (k.last_used_at IS NULL OR k.last_used_at < v.at)`, ids, times)
		return err
	})
	if err != nil {
		return fmt.Errorf("touch keys: %w", err)
	}
	return nil
}
