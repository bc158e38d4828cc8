package postgres

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/tollgate-dev/tollgate/store/storetest"
)

// TestNoPlaintextKeyInAnyTable stores keys and then reads every table of
// the schema as text: the key strings must not appear, their hashes must.
func TestNoPlaintextKeyInAnyTable(t *testing.T) {
	schema := newSchema(t)
	s := openStore(t, schema)
	ctx := t.Context()
	mustDo(t, s.Admin().CreateTenant(ctx, storetest.Tenant("acme")))
	plains := []string{storetest.Plaintext(t), storetest.Plaintext(t)}
	mustDo(t, s.Scoped("acme").CreateKey(ctx, storetest.Key("key_tenant", "acme", plains[0])))
	mustDo(t, s.Admin().CreateKey(ctx, storetest.Key("key_platform", "", plains[1])))

	conn := rawConn(t, schema)
	rows, err := conn.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY tablename`, schema)
	mustDo(t, err)
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	mustDo(t, err)
	if len(tables) < 7 {
		t.Fatalf("found only tables %v", tables)
	}
	var all strings.Builder
	for _, table := range tables {
		var text string
		mustDo(t, conn.QueryRow(ctx, `SELECT coalesce(string_agg(t::text, E'\n'), '') FROM `+
			pgx.Identifier{schema, table}.Sanitize()+` t`).Scan(&text))
		all.WriteString(text)
	}
	for _, p := range plains {
		if strings.Contains(all.String(), p) || strings.Contains(all.String(), p[len("tg_live_"):]) {
			t.Fatalf("plaintext key found in the database")
		}
		sum := sha256.Sum256([]byte(p))
		if !strings.Contains(all.String(), hex.EncodeToString(sum[:])) {
			t.Fatalf("hash of a key not found: the scan did not see the keys table")
		}
	}
}
