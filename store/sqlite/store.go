package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/tollgate-dev/tollgate"
	sqlite "modernc.org/sqlite"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// busyTimeoutMS bounds how long a writer waits for another process's write
// transaction; audit appenders on two Stores queue here rather than fail.
const busyTimeoutMS = 30000

// Store is the SQLite implementation of tollgate.Store.
type Store struct {
	w      *sql.DB // exactly one connection; transactions are BEGIN IMMEDIATE
	r      *sql.DB // read-only pool
	logger *slog.Logger

	mu       sync.Mutex
	watchers map[chan struct{}]struct{}

	// auditStmts[i] inserts auditChunks[i] events, prepared at Open:
	// preparing later on w would wait for the one connection a transaction
	// holds, and parsing a statement per batch cost as much as a sixth of
	// the insert when batches are small (a flush interval's worth).
	auditStmts [len(auditChunks)]*sql.Stmt
}

var _ tollgate.Store = (*Store)(nil)

// Open opens (creating if needed) the database at path, creating its
// directory with mode 0700 and the file with mode 0600, and applies any
// migrations not yet recorded in schema_migrations.
func Open(ctx context.Context, path string, logger *slog.Logger) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if path == "" {
		return nil, fmt.Errorf("open sqlite: empty path")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %q: %w", path, err)
	}
	path = abs
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open sqlite %q: create directory: %w", path, err)
	}
	// SQLite decodes %HH in a file: URI and would stop at ? or #.
	uri := "file:" + strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %q: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("open sqlite %q: %w", path, err)
	}

	common := url.Values{}
	common.Add("_pragma", "busy_timeout("+strconv.Itoa(busyTimeoutMS)+")")
	common.Add("_pragma", "foreign_keys(1)")
	wq := url.Values{}
	for k, v := range common {
		wq[k] = append([]string(nil), v...)
	}
	wq.Add("_pragma", "journal_mode(WAL)")
	// FULL: an acknowledged control-plane change or audit batch must
	// survive power loss, not only a process crash (SPEC §8).
	wq.Add("_pragma", "synchronous(FULL)")
	// Statement journals (multi-row INSERTs need one for a partial
	// rollback) live in memory: on disk they cost a pwrite per page and
	// were a tenth of the audit writer's CPU. They never outlive a statement.
	wq.Add("_pragma", "temp_store(MEMORY)")
	wq.Set("_txlock", "immediate")
	rq := common
	rq.Add("_pragma", "query_only(1)")

	w, err := sql.Open("sqlite", uri+"?"+wq.Encode())
	if err != nil {
		return nil, fmt.Errorf("open sqlite %q: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)

	s := &Store{w: w, logger: logger, watchers: make(map[chan struct{}]struct{})}
	// The writer opens first so that WAL mode is set before any reader connects.
	if err := s.migrate(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite %q: %w", path, err)
	}
	for i, n := range auditChunks {
		if s.auditStmts[i], err = w.PrepareContext(ctx, insertAuditSQL(n)); err != nil {
			w.Close()
			return nil, fmt.Errorf("open sqlite %q: prepare: %w", path, err)
		}
	}
	r, err := sql.Open("sqlite", uri+"?"+rq.Encode())
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite %q: %w", path, err)
	}
	r.SetMaxOpenConns(4)
	r.SetMaxIdleConns(4)
	s.r = r
	if err := r.PingContext(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("open sqlite %q: %w", path, err)
	}
	return s, nil
}

// migrate applies embedded migrations in file-name order inside one write
// transaction, so two processes opening a new file cannot both apply them.
func (s *Store) migrate(ctx context.Context) error {
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("list migrations: %w", err)
	}
	sort.Strings(names)
	return s.write(ctx, false, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version INTEGER PRIMARY KEY, name TEXT NOT NULL) STRICT`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		for _, name := range names {
			base := filepath.Base(name)
			v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
			if err != nil {
				return fmt.Errorf("migration %q: bad version prefix: %w", base, err)
			}
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, v).Scan(&n); err != nil {
				return fmt.Errorf("migration %q: %w", base, err)
			}
			if n > 0 {
				continue
			}
			body, err := migrationFS.ReadFile(name)
			if err != nil {
				return fmt.Errorf("migration %q: %w", base, err)
			}
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return fmt.Errorf("migration %q: %w", base, err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name) VALUES (?, ?)`, v, base); err != nil {
				return fmt.Errorf("migration %q: record: %w", base, err)
			}
			s.logger.Info("applied migration", "store", "sqlite", "migration", base)
		}
		return nil
	})
}

// write runs fn in a BEGIN IMMEDIATE transaction and, if changed is true
// and the commit succeeded, tells every watcher.
func (s *Store) write(ctx context.Context, changed bool, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if changed {
		s.broadcast()
	}
	return nil
}

func (s *Store) broadcast() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ch := range s.watchers {
		select {
		case ch <- struct{}{}:
		default: // a pending signal already covers this change
		}
	}
}

// Admin returns the unscoped repo.
func (s *Store) Admin() tollgate.Repo { return &repo{s: s, admin: true} }

// Scoped returns a repo that sees only tenant's rows. Scoped("") sees nothing.
func (s *Store) Scoped(tenant string) tollgate.Repo { return &repo{s: s, tenant: tenant} }

// Audit returns the audit store.
func (s *Store) Audit() tollgate.AuditStore { return &auditStore{s: s} }

// Watch calls notify once when it starts (changes before that are unknown
// to the caller) and then after every committed change to tenants, keys or
// signing keys made through this Store. Key touches are not changes: they
// would make every replica reload its snapshot on each flush. It returns
// nil when ctx ends.
func (s *Store) Watch(ctx context.Context, notify func()) error {
	ch := make(chan struct{}, 1)
	s.mu.Lock()
	s.watchers[ch] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.watchers, ch)
		s.mu.Unlock()
	}()
	notify()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ch:
			notify()
		}
	}
}

// Ping checks the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.r.PingContext(ctx); err != nil {
		return fmt.Errorf("ping sqlite: %w", err)
	}
	var one int
	if err := s.r.QueryRowContext(ctx, `SELECT 1`).Scan(&one); err != nil {
		return fmt.Errorf("ping sqlite: %w", err)
	}
	return nil
}

// Close closes both connection pools.
func (s *Store) Close() error {
	var errs []error
	for _, st := range s.auditStmts {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	if s.r != nil {
		errs = append(errs, s.r.Close())
	}
	errs = append(errs, s.w.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close sqlite: %w", err)
	}
	return nil
}

// SQLite extended result codes (sqlite3.h).
const (
	codeConstraint           = 19
	codeConstraintForeignKey = 787
	codeConstraintPrimaryKey = 1555
	codeConstraintUnique     = 2067
)

// mapErr turns constraint violations into the root's sentinel errors.
func mapErr(err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() {
	case codeConstraintPrimaryKey, codeConstraintUnique:
		return fmt.Errorf("%w: %v", tollgate.ErrConflict, err)
	case codeConstraintForeignKey:
		return fmt.Errorf("%w: %v", tollgate.ErrNotFound, err)
	}
	return err
}
