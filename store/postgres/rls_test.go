package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/store/storetest"
)

// seed creates tenants a and b with a key, a signing key and an audit
// event each, plus a platform key and a platform audit event.
func seed(t *testing.T, s *Store) {
	t.Helper()
	ctx, r := t.Context(), s.Admin()
	for _, id := range []string{"a", "b"} {
		mustDo(t, r.CreateTenant(ctx, storetest.Tenant(id)))
		mustDo(t, r.CreateKey(ctx, storetest.Key("key_"+id, id, "plain-"+id)))
		mustDo(t, r.CreateSigningKey(ctx, storetest.SigningKey("sk_"+id, id, tollgate.SigningPrimary, storetest.Base)))
	}
	mustDo(t, r.CreateKey(ctx, storetest.Key("key_platform", "", "plain-platform")))
	mustDo(t, s.Audit().AppendAudit(ctx, []tollgate.AuditEvent{
		storetest.Event("ev_a", "a", storetest.Base), storetest.Event("ev_b", "b", storetest.Base),
		storetest.Event("ev_p", "", storetest.Base),
	}, storetest.Seal))
}

func mustDo(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// asRole runs fn in a transaction as role, with app.tenant_id set when
// tenant is not nil, exactly as the store does.
func asRole(ctx context.Context, conn *pgx.Conn, role string, tenant *string, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL ROLE `+role); err != nil {
			return fmt.Errorf("set role: %w", err)
		}
		if tenant != nil {
			if _, err := tx.Exec(ctx, `SELECT set_config('app.tenant_id', $1, true)`, *tenant); err != nil {
				return err
			}
		}
		return fn(tx)
	})
}

// visible lists the tenant_id of every row of table the transaction sees.
func visible(ctx context.Context, tx pgx.Tx, table string) (string, error) {
	rows, err := tx.Query(ctx, `SELECT tenant_id FROM `+pgx.Identifier{table}.Sanitize()+` ORDER BY tenant_id`)
	if err != nil {
		return "", err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", err
	}
	for i, id := range ids {
		if id == "" {
			ids[i] = "<platform>"
		}
	}
	return strings.Join(ids, ","), nil
}

var tenantTables = []string{"tenants", "api_keys", "signing_keys", "audit_events"}

func TestRowLevelSecurity(t *testing.T) {
	schema := newSchema(t)
	seed(t, openStore(t, schema))
	ctx, conn := t.Context(), rawConn(t, schema)
	a, empty := "a", ""

	views := []struct {
		name   string
		role   string
		tenant *string
		want   map[string]string
	}{
		{"app without tenant", RoleApp, nil,
			map[string]string{"tenants": "", "api_keys": "", "signing_keys": "", "audit_events": ""}},
		{"app with empty tenant", RoleApp, &empty,
			map[string]string{"tenants": "", "api_keys": "", "signing_keys": "", "audit_events": ""}},
		{"app as a", RoleApp, &a,
			map[string]string{"tenants": "a", "api_keys": "a", "signing_keys": "a", "audit_events": "a"}},
		{"admin", RoleAdmin, nil,
			map[string]string{"tenants": "a,b", "api_keys": "<platform>,a,b", "signing_keys": "a,b", "audit_events": "<platform>,a,b"}},
	}
	// The first view runs right after a transaction that set the tenant on
	// the same session: a transaction-local setting reverts to '' rather
	// than NULL, which must still mean "no tenant", not the platform.
	mustDo(t, asRole(ctx, conn, RoleApp, &a, func(pgx.Tx) error { return nil }))
	for _, v := range views {
		t.Run(v.name, func(t *testing.T) {
			for _, table := range tenantTables {
				err := asRole(ctx, conn, v.role, v.tenant, func(tx pgx.Tx) error {
					got, err := visible(ctx, tx, table)
					if err != nil {
						return err
					}
					if got != v.want[table] {
						t.Errorf("%s sees %q in %s, want %q", v.role, got, table, v.want[table])
					}
					return nil
				})
				mustDo(t, err)
			}
		})
	}

	refused := []struct {
		name string
		sql  string
		code string
	}{
		{"insert another tenant", `INSERT INTO tenants (tenant_id, name, status, mode, sign, signing_scope, policy, quotas, declarative)
			VALUES ('c', 'c', 'active', 'tunnel', true, 'host', '{}', '{}', false)`, "42501"},
		{"move own key to another tenant", `UPDATE api_keys SET tenant_id = 'b' WHERE key_id = 'key_a'`, "42501"},
		{"insert a platform key", `INSERT INTO api_keys (key_id, tenant_id, hash, scopes, description, allowed_ips, status)
			VALUES ('key_x', '', '\x00', '[]', '', '[]', 'active')`, "42501"},
		{"turn row security off", `SET LOCAL row_security = off; SELECT count(*) FROM tenants`, "42501"},
		{"disable row security", `ALTER TABLE tenants DISABLE ROW LEVEL SECURITY`, "42501"},
		{"drop the policy", `DROP POLICY tenant_isolation ON tenants`, "42501"},
		{"delete keys", `DELETE FROM api_keys`, "42501"},
		{"read audit heads", `SELECT count(*) FROM audit_heads`, "42501"},
	}
	for _, tt := range refused {
		t.Run("app cannot "+tt.name, func(t *testing.T) {
			err := asRole(ctx, conn, RoleApp, &a, func(tx pgx.Tx) error {
				_, err := tx.Exec(ctx, tt.sql)
				return err
			})
			var pe *pgconn.PgError
			if !errors.As(err, &pe) || pe.Code != tt.code {
				t.Fatalf("err = %v, want SQLSTATE %s", err, tt.code)
			}
		})
	}

	t.Run("app writes to other tenants match nothing", func(t *testing.T) {
		mustDo(t, asRole(ctx, conn, RoleApp, &a, func(tx pgx.Tx) error {
			for _, q := range []string{
				`UPDATE tenants SET name = 'pwned' WHERE tenant_id = 'b'`,
				`UPDATE api_keys SET status = 'revoked' WHERE tenant_id IN ('b', '')`,
				`DELETE FROM signing_keys WHERE tenant_id = 'b'`,
			} {
				tag, err := tx.Exec(ctx, q)
				if err != nil {
					return err
				}
				if tag.RowsAffected() != 0 {
					t.Errorf("%s affected %d rows", q, tag.RowsAffected())
				}
			}
			return nil
		}))
	})

	t.Run("roles are unprivileged and own nothing", func(t *testing.T) {
		for _, role := range []string{RoleApp, RoleAdmin} {
			var super, bypass, login bool
			mustDo(t, conn.QueryRow(ctx, `SELECT rolsuper, rolbypassrls, rolcanlogin FROM pg_roles WHERE rolname = $1`, role).
				Scan(&super, &bypass, &login))
			if super || bypass || login {
				t.Errorf("%s: super=%v bypassrls=%v login=%v", role, super, bypass, login)
			}
		}
		for _, table := range tenantTables {
			var owner string
			var enabled, forced bool
			mustDo(t, conn.QueryRow(ctx, `SELECT pg_get_userbyid(c.relowner), c.relrowsecurity, c.relforcerowsecurity
				FROM pg_class c WHERE c.oid = $1::regclass`, pgx.Identifier{schema, table}.Sanitize()).Scan(&owner, &enabled, &forced))
			if owner == RoleApp || owner == RoleAdmin || !enabled || !forced {
				t.Errorf("%s: owner %s, rls enabled %v forced %v", table, owner, enabled, forced)
			}
		}
	})
}
