package control

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"log/slog"
	"net/http/httptest"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/control/client"
	"github.com/tollgate-dev/tollgate/identity"
	"github.com/tollgate-dev/tollgate/keyseal"
	"github.com/tollgate-dev/tollgate/store/postgres"
)

// TestReplicasSharePostgres: two replicas share one PostgreSQL store; a key
// created and then revoked through replica A's API is in force on replica
// B's proxy authentication within 2 s each way (LISTEN/NOTIFY).
func TestReplicasSharePostgres(t *testing.T) {
	dsn := os.Getenv("TOLLGATE_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("TOLLGATE_TEST_POSTGRES_DSN is not set; scripts/test-all sets it")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	schema := "tgreplicas_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), dsn)
		if err != nil {
			t.Errorf("drop schema: %v", err)
			return
		}
		defer conn.Close(context.Background())
		_, _ = conn.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`)
	})
	master := make([]byte, keyseal.KeySize)
	_, _ = rand.Read(master)
	sealer, _ := keyseal.New(master)
	log := slog.New(slog.DiscardHandler)

	replica := func() (*postgres.Store, *identity.Registry) {
		st, err := postgres.Open(ctx, postgres.Options{DSN: dsn, Schema: schema, Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		reg := identity.NewRegistry(st, time.Now, log)
		reg.SetAdminToken(adminToken)
		if err := reg.Reload(ctx); err != nil {
			t.Fatal(err)
		}
		go func() { _ = reg.Run(ctx) }()
		return st, reg
	}
	stA, regA := replica()
	_, regB := replica()

	srv := NewServer(Options{Store: stA, Registry: regA, Sealer: sealer, Logger: log})
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	api := client.New(hs.URL, adminToken, hs.Client())

	if _, err := api.CreateTenantJSON(ctx, []byte(`{"id":"acme","name":"Acme"}`)); err != nil {
		t.Fatal(err)
	}
	key, err := api.CreateKey(ctx, "acme", client.CreateKeyRequest{Scopes: []tollgate.Scope{tollgate.ScopeProxy}})
	if err != nil {
		t.Fatal(err)
	}
	header := "Basic " + base64.StdEncoding.EncodeToString([]byte("acme:"+key.Key))
	clientIP := netip.MustParseAddr("127.0.0.1")
	within := func(what string, want bool) {
		t.Helper()
		deadline := time.Now().Add(2 * time.Second)
		for {
			_, d := regB.AuthenticateProxy(header, clientIP, true)
			if d.Allow == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("replica B: %s not in force within 2s (decision %+v)", what, d)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	within("a key created on replica A", true)
	if err := api.RevokeKey(ctx, "acme", key.ID); err != nil {
		t.Fatal(err)
	}
	within("a key revoked on replica A", false)
}
