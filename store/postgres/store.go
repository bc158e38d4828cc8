package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/tollgate-dev/tollgate"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Channel is the NOTIFY channel every write path signals; the payload is
// the schema name, so stores in different schemas of one database do not
// wake each other.
const Channel = "tollgate_changes"

// Role names; cluster-global.
const (
	RoleApp   = "tollgate_app"
	RoleAdmin = "tollgate_admin"
)

var schemaRe = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// Options configure Open.
type Options struct {
	DSN    string
	Schema string // default "public"; created if missing
	Logger *slog.Logger
}

// Store is the PostgreSQL implementation of tollgate.Store.
type Store struct {
	pool   *pgxpool.Pool
	conn   *pgx.ConnConfig // template for Watch's dedicated connection
	schema string
	logger *slog.Logger
}

var _ tollgate.Store = (*Store)(nil)

// Open connects, creates the roles and the schema if needed and applies
// pending migrations under an advisory lock, so replicas may start together.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Schema == "" {
		opts.Schema = "public"
	}
	if !schemaRe.MatchString(opts.Schema) {
		return nil, fmt.Errorf("open postgres: schema %q must match %s", opts.Schema, schemaRe)
	}
	cfg, err := pgxpool.ParseConfig(opts.DSN)
	if err != nil {
		// The DSN may hold a password: do not echo it.
		return nil, errors.New("open postgres: invalid DSN")
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{opts.Schema}.Sanitize()
	if cfg.ConnConfig.RuntimeParams["application_name"] == "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = "tollgate"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	s := &Store{pool: pool, conn: cfg.ConnConfig, schema: opts.Schema, logger: opts.Logger}
	if err := s.ensureRoles(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	return s, nil
}

// Schema is the schema this store lives in.
func (s *Store) Schema() string { return s.schema }

// ensureRoles creates the two NOLOGIN roles if missing. Roles belong to the
// cluster, so another database's or test's Open may race this one: a
// global advisory lock orders tollgate openers and duplicate errors from
// anyone else are ignored.
func (s *Store) ensureRoles(ctx context.Context) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('tollgate.roles'))`); err != nil {
			return fmt.Errorf("lock roles: %w", err)
		}
		_, err := tx.Exec(ctx, `DO $$
DECLARE
	r text;
BEGIN
	FOREACH r IN ARRAY ARRAY['tollgate_app', 'tollgate_admin'] LOOP
		IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
			BEGIN
				EXECUTE format('CREATE ROLE %I NOLOGIN NOBYPASSRLS', r);
			EXCEPTION WHEN duplicate_object OR unique_violation THEN
				NULL;
			END;
		END IF;
		IF NOT pg_has_role(current_user, r, 'MEMBER') THEN
			BEGIN
				EXECUTE format('GRANT %I TO CURRENT_USER', r);
			EXCEPTION WHEN duplicate_object OR unique_violation THEN
				NULL;
			END;
		END IF;
	END LOOP;
END $$`)
		if err != nil {
			return fmt.Errorf("ensure roles: %w", err)
		}
		return nil
	})
}

func (s *Store) migrate(ctx context.Context) error {
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("list migrations: %w", err)
	}
	sort.Strings(names)
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, "tollgate.migrate:"+s.schema); err != nil {
			return fmt.Errorf("lock migrations: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{s.schema}.Sanitize()); err != nil {
			return fmt.Errorf("create schema: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		for _, name := range names {
			base := path.Base(name)
			v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
			if err != nil {
				return fmt.Errorf("migration %q: bad version prefix: %w", base, err)
			}
			var done bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, v).Scan(&done); err != nil {
				return fmt.Errorf("migration %q: %w", base, err)
			}
			if done {
				continue
			}
			body, err := migrationFS.ReadFile(name)
			if err != nil {
				return fmt.Errorf("migration %q: %w", base, err)
			}
			// No arguments: pgx sends it with the simple protocol, which
			// runs a multi-statement script.
			if _, err := tx.Exec(ctx, string(body)); err != nil {
				return fmt.Errorf("migration %q: %w", base, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, v, base); err != nil {
				return fmt.Errorf("migration %q: record: %w", base, err)
			}
			s.logger.Info("applied migration", "store", "postgres", "schema", s.schema, "migration", base)
		}
		return nil
	})
}

// scope selects the role a transaction runs as.
type scope struct {
	admin  bool
	tenant string
}

var adminScope = scope{admin: true}

// tx runs fn in a transaction switched to scope's role and, if changed,
// queues the change notification so that it is delivered on commit.
func (s *Store) tx(ctx context.Context, sc scope, changed bool, fn func(pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	b := &pgx.Batch{}
	if sc.admin {
		b.Queue(`SET LOCAL ROLE ` + RoleAdmin)
	} else {
		b.Queue(`SET LOCAL ROLE ` + RoleApp)
		b.Queue(`SELECT set_config('app.tenant_id', $1, true)`, sc.tenant)
	}
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("switch role: %w", err)
	}
	if err := fn(tx); err != nil {
		return err
	}
	if changed {
		if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, Channel, s.schema); err != nil {
			return fmt.Errorf("notify: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", mapErr(err))
	}
	return nil
}

// Admin returns the unscoped repo (role tollgate_admin).
func (s *Store) Admin() tollgate.Repo { return &repo{s: s, sc: adminScope} }

// Scoped returns a repo that sees only tenant's rows (role tollgate_app).
// Scoped("") sees nothing.
func (s *Store) Scoped(tenant string) tollgate.Repo {
	return &repo{s: s, sc: scope{tenant: tenant}}
}

// Audit returns the audit store.
func (s *Store) Audit() tollgate.AuditStore { return &auditStore{s: s} }

// Ping checks the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping postgres: %w", err)
	}
	return nil
}

// Close closes the pool. Watchers end with their contexts.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// PostgreSQL error codes (appendix A).
const (
	codeUniqueViolation     = "23505"
	codeForeignKeyViolation = "23503"
)

func mapErr(err error) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return err
	}
	switch pe.Code {
	case codeUniqueViolation:
		return fmt.Errorf("%w: %v", tollgate.ErrConflict, err)
	case codeForeignKeyViolation:
		return fmt.Errorf("%w: %v", tollgate.ErrNotFound, err)
	}
	return err
}
