package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/store/internal/rowcodec"
)

type auditStore struct{ s *Store }

const auditCols = `pos, tenant_id, seq, event_id, time, actor, actor_type, action, target, outcome, reason, client_ip, metadata, prev_hash, hash`

// auditChunks are the numbers of events one INSERT statement carries, in
// decreasing order: per-statement overhead, not SQLite, dominates
// single-row inserts, and with one prepared statement per size any batch
// is written by at most one statement per size after the largest.
var auditChunks = [...]int{64, 32, 16, 8, 4, 2, 1}

const auditInsertCols = 14

// insertAuditSQL returns a multi-row INSERT for n events.
func insertAuditSQL(n int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO audit_events (tenant_id, seq, event_id, time, actor, actor_type, action, target,
	outcome, reason, client_ip, metadata, prev_hash, hash) VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
	}
	return b.String()
}

type head struct {
	seq  int64
	hash string
}

// AppendAudit chains and inserts events in one BEGIN IMMEDIATE transaction:
// the write lock is held from the read of each chain head to the commit, so
// no other writer, in this process or another, can link to the same head.
// Each event's Time is normalised to UTC before sealing because it comes
// back in UTC and the hash covers it.
func (a *auditStore) AppendAudit(ctx context.Context, events []tollgate.AuditEvent, seal func(prevHash string, e *tollgate.AuditEvent)) error {
	if len(events) == 0 {
		return nil
	}
	err := a.s.write(ctx, false, func(tx *sql.Tx) error {
		heads := make(map[string]head)
		vals := make([]any, 0, auditChunks[0]*auditInsertCols)
		for i := range events {
			e := &events[i]
			if e.ID == "" {
				return fmt.Errorf("event %d: id is required", i)
			}
			chain := e.Tenant
			h, ok := heads[chain]
			if !ok {
				err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit_heads WHERE tenant_id = ?`, chain).Scan(&h.seq, &h.hash)
				if err != nil && !errors.Is(err, sql.ErrNoRows) {
					return fmt.Errorf("chain %q head: %w", chain, err)
				}
			}
			e.Time = e.Time.UTC()
			e.PrevHash = h.hash
			seal(h.hash, e)
			if e.Tenant != chain || e.PrevHash != h.hash || e.Hash == "" {
				return fmt.Errorf("event %q: seal must set Hash and keep Tenant and PrevHash", e.ID)
			}
			e.Seq = h.seq + 1
			var meta []byte
			if len(e.Metadata) > 0 {
				meta = e.Metadata
			}
			vals = append(vals, chain, e.Seq, e.ID, rowcodec.Nanos(e.Time), e.Actor, string(e.ActorType),
				e.Action, e.Target, string(e.Outcome), e.Reason, e.ClientIP, meta, e.PrevHash, e.Hash)
			heads[chain] = head{seq: e.Seq, hash: e.Hash}
			if len(vals) == cap(vals) || i == len(events)-1 {
				if err := a.insert(ctx, tx, vals); err != nil {
					return err
				}
				vals = vals[:0]
			}
		}
		for chain, h := range heads {
			if _, err := tx.ExecContext(ctx, `INSERT INTO audit_heads (tenant_id, seq, hash) VALUES (?, ?, ?)
				ON CONFLICT (tenant_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash`, chain, h.seq, h.hash); err != nil {
				return fmt.Errorf("chain %q head: %w", chain, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("append audit: %w", err)
	}
	return nil
}

// insert writes the events whose columns are in vals (at most the largest
// chunk) through the statements prepared once per Store.
func (a *auditStore) insert(ctx context.Context, tx *sql.Tx, vals []any) error {
	for i, n := range auditChunks {
		for len(vals) >= n*auditInsertCols {
			stmt := tx.StmtContext(ctx, a.s.auditStmts[i])
			_, err := stmt.ExecContext(ctx, vals[:n*auditInsertCols]...)
			stmt.Close()
			if err != nil {
				return fmt.Errorf("insert events: %w", mapErr(err))
			}
			vals = vals[n*auditInsertCols:]
		}
	}
	return nil
}

func scanEvent(row interface{ Scan(...any) error }) (tollgate.AuditEvent, int64, error) {
	var (
		e   tollgate.AuditEvent
		pos int64
		t   sql.NullInt64
		md  []byte
	)
	if err := row.Scan(&pos, &e.Tenant, &e.Seq, &e.ID, &t, &e.Actor, &e.ActorType, &e.Action, &e.Target,
		&e.Outcome, &e.Reason, &e.ClientIP, &md, &e.PrevHash, &e.Hash); err != nil {
		return e, 0, err
	}
	e.Time = rowcodec.Time(t)
	if len(md) > 0 {
		e.Metadata = md
	}
	return e, pos, nil
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
	add := func(c string, v any) { conds, vals = append(conds, c), append(vals, v) }
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
		add("time >= ?", q.Since.UnixNano())
	}
	if !q.Until.IsZero() {
		add("time < ?", q.Until.UnixNano())
	}
	if ok {
		add("pos < ?", before)
	}
	where := "1 = 1"
	if len(conds) > 0 {
		where = strings.Join(conds, " AND ")
	}
	rows, err := a.s.r.QueryContext(ctx, `SELECT `+auditCols+` FROM audit_events WHERE `+where+
		` ORDER BY pos DESC LIMIT ?`, append(vals, sqlLimit(q.Page.Limit))...)
	if err != nil {
		return nil, "", fmt.Errorf("list audit: %w", err)
	}
	defer rows.Close()
	var (
		out     []tollgate.AuditEvent
		lastPos []int64
	)
	for rows.Next() {
		e, pos, err := scanEvent(rows)
		if err != nil {
			return nil, "", fmt.Errorf("list audit: %w", err)
		}
		out, lastPos = append(out, e), append(lastPos, pos)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list audit: %w", err)
	}
	out, more := trim(out, q.Page.Limit)
	if more {
		return out, rowcodec.EncodeIntCursor("audit", lastPos[len(out)-1]), nil
	}
	return out, "", nil
}

// scanPage bounds how many events ScanAudit holds at once; fn runs with no
// query open, so it may call back into the store.
const scanPage = 1000

// ScanAudit calls fn for each event of tenant's chain, oldest first.
func (a *auditStore) ScanAudit(ctx context.Context, tenant string, fn func(tollgate.AuditEvent) error) error {
	var after int64
	for {
		rows, err := a.s.r.QueryContext(ctx, `SELECT `+auditCols+` FROM audit_events WHERE tenant_id = ? AND seq > ?
			ORDER BY seq LIMIT ?`, tenant, after, scanPage)
		if err != nil {
			return fmt.Errorf("scan audit %q: %w", tenant, err)
		}
		page := make([]tollgate.AuditEvent, 0, scanPage)
		for rows.Next() {
			e, _, err := scanEvent(rows)
			if err != nil {
				rows.Close()
				return fmt.Errorf("scan audit %q: %w", tenant, err)
			}
			page = append(page, e)
		}
		err = rows.Err()
		rows.Close()
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
// whose events have all been pruned (its head and checkpoint remain).
func (a *auditStore) AuditChains(ctx context.Context) ([]string, error) {
	rows, err := a.s.r.QueryContext(ctx, `SELECT tenant_id FROM audit_heads ORDER BY tenant_id`)
	if err != nil {
		return nil, fmt.Errorf("audit chains: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, fmt.Errorf("audit chains: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit chains: %w", err)
	}
	return out, nil
}

// PruneAudit removes every chain's whole UTC-day segments that end at or
// before before (see the package doc), recording per chain the seq and hash
// of the last removed event.
func (a *auditStore) PruneAudit(ctx context.Context, before time.Time) (int, error) {
	cutoff := before.UTC().Truncate(24 * time.Hour)
	removed := 0
	err := a.s.write(ctx, false, func(tx *sql.Tx) error {
		heads, err := chainHeads(ctx, tx)
		if err != nil {
			return err
		}
		chains := make([]string, 0, len(heads))
		for c := range heads {
			chains = append(chains, c)
		}
		sort.Strings(chains)
		marked := false
		for _, chain := range chains {
			var pruned, firstKeep sql.NullInt64
			if err := tx.QueryRowContext(ctx, `SELECT max(seq) FROM audit_checkpoints WHERE tenant_id = ?`, chain).Scan(&pruned); err != nil {
				return fmt.Errorf("chain %q checkpoint: %w", chain, err)
			}
			if err := tx.QueryRowContext(ctx, `SELECT min(seq) FROM audit_events WHERE tenant_id = ? AND (time IS NULL OR time >= ?)`,
				chain, cutoff.UnixNano()).Scan(&firstKeep); err != nil {
				return fmt.Errorf("chain %q: %w", chain, err)
			}
			last := heads[chain]
			if firstKeep.Valid {
				last = firstKeep.Int64 - 1
			}
			if last <= pruned.Int64 {
				continue
			}
			var hash string
			if err := tx.QueryRowContext(ctx, `SELECT hash FROM audit_events WHERE tenant_id = ? AND seq = ?`, chain, last).Scan(&hash); err != nil {
				return fmt.Errorf("chain %q event %d: %w", chain, last, err)
			}
			if !marked {
				if _, err := tx.ExecContext(ctx, `INSERT INTO audit_prune_marker (one) VALUES (1)`); err != nil {
					return fmt.Errorf("prune marker: %w", err)
				}
				marked = true
			}
			res, err := tx.ExecContext(ctx, `DELETE FROM audit_events WHERE tenant_id = ? AND seq <= ?`, chain, last)
			if err != nil {
				return fmt.Errorf("chain %q: %w", chain, err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return fmt.Errorf("chain %q: %w", chain, err)
			}
			removed += int(n)
			if _, err := tx.ExecContext(ctx, `INSERT INTO audit_checkpoints (tenant_id, seq, hash, cutoff) VALUES (?, ?, ?, ?)`,
				chain, last, hash, cutoff.UnixNano()); err != nil {
				return fmt.Errorf("chain %q checkpoint: %w", chain, err)
			}
		}
		if marked {
			if _, err := tx.ExecContext(ctx, `DELETE FROM audit_prune_marker`); err != nil {
				return fmt.Errorf("prune marker: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("prune audit before %s: %w", before.Format(time.RFC3339), err)
	}
	return removed, nil
}

func chainHeads(ctx context.Context, tx *sql.Tx) (map[string]int64, error) {
	rows, err := tx.QueryContext(ctx, `SELECT tenant_id, seq FROM audit_heads`)
	if err != nil {
		return nil, fmt.Errorf("audit heads: %w", err)
	}
	defer rows.Close()
	heads := make(map[string]int64)
	for rows.Next() {
		var (
			c string
			s int64
		)
		if err := rows.Scan(&c, &s); err != nil {
			return nil, fmt.Errorf("audit heads: %w", err)
		}
		heads[c] = s
	}
	return heads, rows.Err()
}

// AuditCheckpoint returns the hash of the newest pruned event of tenant's chain.
func (a *auditStore) AuditCheckpoint(ctx context.Context, tenant string) (string, error) {
	var hash string
	err := a.s.r.QueryRowContext(ctx, `SELECT hash FROM audit_checkpoints WHERE tenant_id = ? ORDER BY seq DESC LIMIT 1`, tenant).Scan(&hash)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("audit checkpoint %q: %w", tenant, err)
	}
	return hash, nil
}
