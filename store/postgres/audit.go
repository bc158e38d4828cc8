package postgres

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/store/internal/rowcodec"
)

type auditStore struct{ s *Store }

const auditCols = `pos, tenant_id, seq, event_id, time_ns, actor, actor_type, action, target, outcome, reason, client_ip, metadata, prev_hash, hash`

// readScope reads one tenant's chain as that tenant (row-level security
// then guards the audit read path too); every other read runs as admin.
func readScope(tenant *string) scope {
	if tenant != nil && *tenant != "" {
		return scope{tenant: *tenant}
	}
	return adminScope
}

type head struct {
	seq  int64
	hash string
}

// AppendAudit locks the head row of every chain in the batch (created on
// first use, locked in byte order so two appenders cannot deadlock), seals
// the events against those heads and inserts them with one statement.
// Times are normalised to UTC before sealing, as in the SQLite store.
func (a *auditStore) AppendAudit(ctx context.Context, events []tollgate.AuditEvent, seal func(prevHash string, e *tollgate.AuditEvent)) error {
	if len(events) == 0 {
		return nil
	}
	seen := map[string]bool{}
	var chains []string
	for i, e := range events {
		if e.ID == "" {
			return fmt.Errorf("append audit: event %d: id is required", i)
		}
		if !seen[e.Tenant] {
			seen[e.Tenant] = true
			chains = append(chains, e.Tenant)
		}
	}
	sort.Strings(chains)
	err := a.s.tx(ctx, adminScope, false, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO audit_heads (tenant_id, seq, hash)
			SELECT c, 0, '' FROM unnest($1::text[]) AS c ORDER BY c ON CONFLICT (tenant_id) DO NOTHING`, chains); err != nil {
			return fmt.Errorf("create heads: %w", err)
		}
		rows, err := tx.Query(ctx, `SELECT tenant_id, seq, hash FROM audit_heads WHERE tenant_id = ANY($1)
			ORDER BY tenant_id FOR UPDATE`, chains)
		if err != nil {
			return fmt.Errorf("lock heads: %w", err)
		}
		heads := make(map[string]head, len(chains))
		var (
			c string
			h head
		)
		_, err = pgx.ForEachRow(rows, []any{&c, &h.seq, &h.hash}, func() error {
			heads[c] = h
			return nil
		})
		if err != nil {
			return fmt.Errorf("lock heads: %w", err)
		}
		n := len(events)
		var (
			tenants, ids, actors, actorTypes, actions = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
			targets, outcomes, reasons, clientIPs     = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
			prevs, hashes                             = make([]string, n), make([]string, n)
			seqs                                      = make([]int64, n)
			times                                     = make([]pgtype.Int8, n)
			metas                                     = make([][]byte, n)
		)
		for i := range events {
			e := &events[i]
			chain := e.Tenant
			h := heads[chain]
			e.Time = e.Time.UTC()
			e.PrevHash = h.hash
			seal(h.hash, e)
			if e.Tenant != chain || e.PrevHash != h.hash || e.Hash == "" {
				return fmt.Errorf("event %q: seal must set Hash and keep Tenant and PrevHash", e.ID)
			}
			e.Seq = h.seq + 1
			heads[chain] = head{seq: e.Seq, hash: e.Hash}
			tenants[i], seqs[i], ids[i], actors[i], actorTypes[i] = chain, e.Seq, e.ID, e.Actor, string(e.ActorType)
			actions[i], targets[i], outcomes[i], reasons[i], clientIPs[i] = e.Action, e.Target, string(e.Outcome), e.Reason, e.ClientIP
			prevs[i], hashes[i] = e.PrevHash, e.Hash
			if n := rowcodec.Nanos(e.Time); n.Valid {
				times[i] = pgtype.Int8{Int64: n.Int64, Valid: true}
			}
			if len(e.Metadata) > 0 {
				metas[i] = e.Metadata
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO audit_events (tenant_id, seq, event_id, time_ns, actor, actor_type, action,
			target, outcome, reason, client_ip, metadata, prev_hash, hash)
			SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[],
				$8::text[], $9::text[], $10::text[], $11::text[], $12::bytea[], $13::text[], $14::text[])`,
			tenants, seqs, ids, times, actors, actorTypes, actions, targets, outcomes, reasons, clientIPs, metas, prevs, hashes); err != nil {
			return fmt.Errorf("insert events: %w", mapErr(err))
		}
		hc, hs, hh := make([]string, 0, len(heads)), make([]int64, 0, len(heads)), make([]string, 0, len(heads))
		for _, c := range chains {
			hc, hs, hh = append(hc, c), append(hs, heads[c].seq), append(hh, heads[c].hash)
		}
		if _, err := tx.Exec(ctx, `UPDATE audit_heads h SET seq = v.seq, hash = v.hash
			FROM unnest($1::text[], $2::bigint[], $3::text[]) AS v(tenant_id, seq, hash) WHERE h.tenant_id = v.tenant_id`,
			hc, hs, hh); err != nil {
			return fmt.Errorf("update heads: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("append audit: %w", err)
	}
	return nil
}

func scanEvent(row pgx.Row) (tollgate.AuditEvent, int64, error) {
	var (
		e   tollgate.AuditEvent
		pos int64
		t   pgtype.Int8
		md  []byte
	)
	if err := row.Scan(&pos, &e.Tenant, &e.Seq, &e.ID, &t, &e.Actor, &e.ActorType, &e.Action, &e.Target,
		&e.Outcome, &e.Reason, &e.ClientIP, &md, &e.PrevHash, &e.Hash); err != nil {
		return e, 0, err
	}
	if t.Valid {
		e.Time = time.Unix(0, t.Int64).UTC()
	}
	if len(md) > 0 {
		e.Metadata = md
	}
	return e, pos, nil
}

type posEvent struct {
	e   tollgate.AuditEvent
	pos int64
}

// ListAudit returns matching events newest first (reverse append order).
// Since is inclusive, Until exclusive.
func (a *auditStore) ListAudit(ctx context.Context, q tollgate.AuditQuery) ([]tollgate.AuditEvent, string, error) {
	before, ok, err := rowcodec.DecodeIntCursor("audit", q.Page.Cursor)
	if err != nil {
		return nil, "", fmt.Errorf("list audit: %w", err)
	}
	if q.Page.Limit < 0 {
		return nil, "", fmt.Errorf("list audit: negative limit %d", q.Page.Limit)
	}
	var (
		conds []string
		vals  []any
	)
	add := func(c string, v any) {
		vals = append(vals, v)
		conds = append(conds, strings.ReplaceAll(c, "?", "$"+strconv.Itoa(len(vals))))
	}
	if q.Tenant != nil {
		add("tenant_id = ?", *q.Tenant)
	}
	if q.Action != "" {
		add("action = ?", q.Action)
	}
	if q.Outcome != "" {
		add("outcome = ?", string(q.Outcome))
	}
	if !q.Since.IsZero() {
		add("time_ns >= ?", q.Since.UnixNano())
	}
	if !q.Until.IsZero() {
		add("time_ns < ?", q.Until.UnixNano())
	}
	if ok {
		add("pos < ?", before)
	}
	where := "true"
	if len(conds) > 0 {
		where = strings.Join(conds, " AND ")
	}
	vals = append(vals, limit(q.Page.Limit))
	var out []posEvent
	err = a.s.tx(ctx, readScope(q.Tenant), false, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+auditCols+` FROM audit_events WHERE `+where+
			` ORDER BY pos DESC LIMIT $`+strconv.Itoa(len(vals)), vals...)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (posEvent, error) {
			e, pos, err := scanEvent(row)
			return posEvent{e, pos}, err
		})
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("list audit: %w", err)
	}
	out, more := trim(out, q.Page.Limit)
	events := make([]tollgate.AuditEvent, len(out))
	for i, pe := range out {
		events[i] = pe.e
	}
	if more {
		return events, rowcodec.EncodeIntCursor("audit", out[len(out)-1].pos), nil
	}
	return events, "", nil
}

// scanPage bounds how many events ScanAudit holds at once; fn runs with no
// transaction open, so a slow consumer holds no locks or snapshots.
const scanPage = 1000

// ScanAudit calls fn for each event of tenant's chain, oldest first.
func (a *auditStore) ScanAudit(ctx context.Context, tenant string, fn func(tollgate.AuditEvent) error) error {
	var after int64
	for {
		var page []tollgate.AuditEvent
		err := a.s.tx(ctx, readScope(&tenant), false, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, `SELECT `+auditCols+` FROM audit_events WHERE tenant_id = $1 AND seq > $2
				ORDER BY seq LIMIT $3`, tenant, after, scanPage)
			if err != nil {
				return err
			}
			page, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (tollgate.AuditEvent, error) {
				e, _, err := scanEvent(row)
				return e, err
			})
			return err
		})
		if err != nil {
			return fmt.Errorf("scan audit %q: %w", tenant, err)
		}
		for _, e := range page {
			if err := fn(e); err != nil {
				return err
			}
		}
		if len(page) < scanPage {
			return nil
		}
		after = page[len(page)-1].Seq
	}
}

// AuditChains lists every chain that has been appended to, including one
// whose events have all been pruned.
func (a *auditStore) AuditChains(ctx context.Context) ([]string, error) {
	var out []string
	err := a.s.tx(ctx, adminScope, false, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT tenant_id FROM audit_heads ORDER BY tenant_id`)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("audit chains: %w", err)
	}
	return out, nil
}

// PruneAudit removes whole UTC-day segments that end at or before before
// through audit_prune (see the package doc).
func (a *auditStore) PruneAudit(ctx context.Context, before time.Time) (int, error) {
	cutoff := before.UTC().Truncate(24 * time.Hour)
	var removed int64
	err := a.s.tx(ctx, adminScope, false, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT audit_prune($1)`, cutoff.UnixNano()).Scan(&removed)
	})
	if err != nil {
		return 0, fmt.Errorf("prune audit before %s: %w", before.Format(time.RFC3339), err)
	}
	return int(removed), nil
}

// AuditCheckpoint returns the hash of the newest pruned event of tenant's chain.
func (a *auditStore) AuditCheckpoint(ctx context.Context, tenant string) (string, error) {
	var hash string
	err := a.s.tx(ctx, adminScope, false, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SELECT hash FROM audit_checkpoints WHERE tenant_id = $1 ORDER BY seq DESC LIMIT 1`, tenant).Scan(&hash)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("audit checkpoint %q: %w", tenant, err)
	}
	return hash, nil
}
