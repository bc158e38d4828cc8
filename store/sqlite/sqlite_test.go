package sqlite

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/store/storetest"
)

func TestOpenCreatesPrivateFilesAndMigratesOnce(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "data")
	path := filepath.Join(dir, "tollgate.db")
	s := openTest(t, path)
	for p, want := range map[string]os.FileMode{dir: 0o700 | os.ModeDir, path: 0o600} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s mode %v, want %v", p, fi.Mode(), want)
		}
	}
	var mode string
	if err := s.r.QueryRowContext(t.Context(), `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
	var fk int
	if err := s.r.QueryRowContext(t.Context(), `PRAGMA foreign_keys`).Scan(&fk); err != nil || fk != 1 {
		t.Errorf("foreign_keys = %d, %v; want 1", fk, err)
	}
	mustDo(t, s.Admin().CreateTenant(t.Context(), storetest.Tenant("acme")))
	mustDo(t, s.Close())

	again := openTest(t, path) // reopening applies nothing twice and keeps the data
	var versions string
	if err := again.r.QueryRowContext(t.Context(), `SELECT group_concat(version) FROM schema_migrations`).Scan(&versions); err != nil {
		t.Fatal(err)
	}
	if versions != "1" {
		t.Fatalf("schema_migrations = %q, want 1", versions)
	}
	if _, err := again.Admin().GetTenant(t.Context(), "acme"); err != nil {
		t.Fatalf("tenant lost across reopen: %v", err)
	}
	if _, err := Open(t.Context(), "", nil); err == nil {
		t.Error("Open accepted an empty path")
	}
}

// TestOpenOddPaths pins that a path is a path, never URI syntax.
func TestOpenOddPaths(t *testing.T) {
	for _, name := range []string{"my data", "pct%20x", "q?mode=memory", "hash#x", "ü"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), name)
			path := filepath.Join(dir, "t.db")
			s := openTest(t, path)
			mustDo(t, s.Admin().CreateTenant(t.Context(), storetest.Tenant("acme")))
			if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
				t.Fatalf("database not at %q: %v", path, err)
			}
			ents, err := os.ReadDir(filepath.Dir(dir))
			if err != nil || len(ents) != 1 || ents[0].Name() != name {
				t.Fatalf("files beside %q: %v %v", name, ents, err)
			}
		})
	}
}

func mustDo(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestTwoInstancesNeverForkAChain appends from 8 goroutines spread over two
// Stores opened on the same file, as two processes would.
func TestTwoInstancesNeverForkAChain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tollgate.db")
	stores := []*Store{openTest(t, path), openTest(t, path)}
	const (
		workers = 8
		batches = 25
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

func TestAuditIsAppendOnly(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "tollgate.db"))
	ctx := t.Context()
	mustDo(t, s.Audit().AppendAudit(ctx, []tollgate.AuditEvent{storetest.Event("e1", "a", storetest.Base)}, storetest.Seal))
	for _, q := range []string{
		`UPDATE audit_events SET actor = 'forged'`,
		`DELETE FROM audit_events`,
		`UPDATE audit_events SET hash = 'x' WHERE seq = 1`,
	} {
		t.Run(q, func(t *testing.T) {
			_, err := s.w.ExecContext(ctx, q)
			if err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Fatalf("err = %v, want the append-only trigger", err)
			}
		})
	}
	if got := storetest.VerifyStored(t, s.Audit(), "a"); len(got) != 1 || got[0].Actor != "key_x" {
		t.Fatalf("audit changed: %+v", got)
	}
	n, err := s.Audit().PruneAudit(ctx, storetest.Base.AddDate(0, 0, 2))
	if err != nil || n != 1 {
		t.Fatalf("PruneAudit = %d, %v; want 1", n, err)
	}
	var marker int
	mustDo(t, s.r.QueryRowContext(ctx, `SELECT count(*) FROM audit_prune_marker`).Scan(&marker))
	if marker != 0 {
		t.Fatal("prune marker left behind: deletes are no longer guarded")
	}
}

// TestNoPlaintextKeyInFiles stores keys and scans the database, WAL and
// shared-memory files: the key strings must not appear, their hashes must.
func TestNoPlaintextKeyInFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tollgate.db")
	s := openTest(t, path)
	ctx := t.Context()
	mustDo(t, s.Admin().CreateTenant(ctx, storetest.Tenant("acme")))
	plains := []string{storetest.Plaintext(t), storetest.Plaintext(t)}
	mustDo(t, s.Scoped("acme").CreateKey(ctx, storetest.Key("key_tenant", "acme", plains[0])))
	mustDo(t, s.Admin().CreateKey(ctx, storetest.Key("key_platform", "", plains[1])))

	var all []byte
	for _, suffix := range []string{"", "-wal", "-shm"} {
		b, err := os.ReadFile(path + suffix)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	for _, p := range plains {
		if bytes.Contains(all, []byte(p)) || bytes.Contains(all, []byte(p[len("tg_live_"):])) {
			t.Fatal("plaintext key found in the database files")
		}
		sum := sha256.Sum256([]byte(p))
		if !bytes.Contains(all, sum[:]) {
			t.Fatal("hash of a key not found: the scan did not see the stored keys")
		}
	}
}
