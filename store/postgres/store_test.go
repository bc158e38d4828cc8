package postgres

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/store/storetest"
)

func TestConformance(t *testing.T) {
	testDSN(t)
	storetest.Run(t, func(t *testing.T) tollgate.Store {
		return openStore(t, newSchema(t))
	})
}

func TestOpenIsIdempotent(t *testing.T) {
	schema := newSchema(t)
	a := openStore(t, schema)
	b := openStore(t, schema) // a second replica: migrations already applied
	if err := b.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	var versions []int
	rows, err := rawConn(t, schema).Query(t.Context(), `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	versions, err = pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(versions) != "[1]" {
		t.Fatalf("schema_migrations = %v, want [1]", versions)
	}
	if err := a.Admin().CreateTenant(t.Context(), storetest.Tenant("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Admin().GetTenant(t.Context(), "x"); err != nil {
		t.Fatalf("second instance does not see the first's tenant: %v", err)
	}
	for _, bad := range []string{"Public", "a-b", "x;drop", "", "1abc"} {
		if bad == "" {
			continue // "" means the default, public
		}
		if _, err := Open(t.Context(), Options{DSN: testDSN(t), Schema: bad}); err == nil {
			t.Errorf("Open accepted schema %q", bad)
		}
	}
}

// TestTwoInstancesNeverForkAChain appends from 8 goroutines spread over two
// Store instances (two replicas) to shared chains.
func TestTwoInstancesNeverForkAChain(t *testing.T) {
	schema := newSchema(t)
	stores := []*Store{openStore(t, schema), openStore(t, schema)}
	const (
		workers = 8
		batches = 15
	)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := stores[w%2]
			for i := range batches {
				batch := []tollgate.AuditEvent{
					storetest.Event(fmt.Sprintf("w%d-%d-a", w, i), "shared", storetest.Base),
					storetest.Event(fmt.Sprintf("w%d-%d-p", w, i), "", storetest.Base),
					storetest.Event(fmt.Sprintf("w%d-%d-b", w, i), "shared", storetest.Base),
				}
				if err := s.Audit().AppendAudit(t.Context(), batch, storetest.Seal); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("append: %v", err)
	}
	if n := len(storetest.VerifyStored(t, stores[0].Audit(), "shared")); n != workers*batches*2 {
		t.Fatalf("shared chain has %d events, want %d", n, workers*batches*2)
	}
	if n := len(storetest.VerifyStored(t, stores[1].Audit(), "")); n != workers*batches {
		t.Fatalf("platform chain has %d events, want %d", n, workers*batches)
	}
}

func TestWatchAcrossInstances(t *testing.T) {
	schema := newSchema(t)
	a, b := openStore(t, schema), openStore(t, schema)
	other := openStore(t, newSchema(t))
	ch := storetest.StartWatch(t, a)
	ctx := t.Context()

	if err := b.Admin().CreateTenant(ctx, storetest.Tenant("acme")); err != nil {
		t.Fatal(err)
	}
	storetest.WaitNotify(t, ch, "tenant created on the other replica")

	// A change in another schema of the same database is not ours. Prove
	// the listener is live afterwards with a change of our own: had the
	// foreign change been delivered, a second value would be queued.
	storetest.Drain(ch)
	if err := other.Admin().CreateTenant(ctx, storetest.Tenant("acme")); err != nil {
		t.Fatal(err)
	}
	if err := b.Scoped("acme").CreateKey(ctx, storetest.Key("key_1", "acme", "plain-1")); err != nil {
		t.Fatal(err)
	}
	storetest.WaitNotify(t, ch, "key created on the other replica")
	select {
	case <-ch:
		t.Fatal("notified for another schema's change")
	default:
	}

	// Kill the listening backend: Watch must reconnect and keep delivering.
	var killed int
	if err := rawConn(t, schema).QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = $1`, a.WatchApplicationName()).Scan(&killed); err != nil {
		t.Fatal(err)
	}
	if killed != 1 {
		t.Fatalf("terminated %d listener backends, want 1", killed)
	}
	storetest.WaitNotify(t, ch, "notify after reconnect")
	storetest.Drain(ch)
	if err := b.Admin().UpdateTenant(ctx, storetest.Tenant("acme")); err != nil {
		t.Fatal(err)
	}
	storetest.WaitNotify(t, ch, "tenant updated after reconnect")
}

func TestAuditIsAppendOnly(t *testing.T) {
	schema := newSchema(t)
	s := openStore(t, schema)
	ctx := t.Context()
	if err := s.Audit().AppendAudit(ctx, []tollgate.AuditEvent{storetest.Event("e1", "a", storetest.Base)}, storetest.Seal); err != nil {
		t.Fatal(err)
	}
	conn := rawConn(t, schema)
	tests := []struct {
		name, role, sql string
	}{
		{"owner update", "", `UPDATE audit_events SET actor = 'forged'`},
		{"owner delete", "", `DELETE FROM audit_events`},
		{"owner truncate", "", `TRUNCATE audit_events`},
		{"owner delete with the prune flag off", "", `SELECT set_config('tollgate.audit_prune', 'off', true); DELETE FROM audit_events`},
		{"admin update", RoleAdmin, `UPDATE audit_events SET actor = 'forged'`},
		{"admin delete", RoleAdmin, `DELETE FROM audit_events`},
		{"app update", RoleApp, `UPDATE audit_events SET actor = 'forged'`},
		{"app prune", RoleApp, `SELECT audit_prune(9000000000000000000)`},
		{"admin heads rewrite", RoleAdmin, `DELETE FROM audit_heads`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
				if tt.role != "" {
					if _, err := tx.Exec(ctx, `SET LOCAL ROLE `+tt.role); err != nil {
						return fmt.Errorf("set role: %w", err)
					}
				}
				_, err := tx.Exec(ctx, tt.sql)
				return err
			})
			var pe *pgconn.PgError
			if !errors.As(err, &pe) || pe.Code != "42501" {
				t.Fatalf("%s: err = %v, want insufficient_privilege (42501)", tt.sql, err)
			}
		})
	}
	events := storetest.VerifyStored(t, s.Audit(), "a")
	if len(events) != 1 || events[0].Actor != "key_x" {
		t.Fatalf("audit changed: %+v", events)
	}
	n, err := s.Audit().PruneAudit(ctx, storetest.Base.AddDate(0, 0, 2))
	if err != nil || n != 1 {
		t.Fatalf("PruneAudit = %d, %v; want 1 removed through audit_prune", n, err)
	}
}
