-- Times are INTEGER Unix nanoseconds in UTC (NULL for the zero time), so
-- they sort, compare and round-trip exactly, including audit event times
-- that are part of a hash.

CREATE TABLE tenants (
	tenant_id     TEXT PRIMARY KEY,
	name          TEXT NOT NULL,
	status        TEXT NOT NULL,
	mode          TEXT NOT NULL,
	sign          INTEGER NOT NULL,
	signing_scope TEXT NOT NULL,
	policy        TEXT NOT NULL, -- JSON
	quotas        TEXT NOT NULL, -- JSON
	declarative   INTEGER NOT NULL,
	created_at    INTEGER,
	updated_at    INTEGER
) STRICT;

-- No foreign key to tenants: platform keys have tenant_id '' and a deleted
-- tenant's keys stay behind, revoked, for the record.
CREATE TABLE api_keys (
	key_id       TEXT PRIMARY KEY,
	tenant_id    TEXT NOT NULL,
	hash         BLOB NOT NULL UNIQUE,
	scopes       TEXT NOT NULL, -- JSON
	description  TEXT NOT NULL,
	allowed_ips  TEXT NOT NULL, -- JSON
	status       TEXT NOT NULL,
	expires_at   INTEGER,
	created_at   INTEGER,
	last_used_at INTEGER,
	revoked_at   INTEGER
) STRICT;
CREATE INDEX api_keys_tenant ON api_keys (tenant_id, key_id);

CREATE TABLE signing_keys (
	key_id      TEXT PRIMARY KEY,
	tenant_id   TEXT NOT NULL REFERENCES tenants (tenant_id),
	status      TEXT NOT NULL,
	created_at  INTEGER,
	grace_until INTEGER,
	sealed      BLOB NOT NULL
) STRICT;
CREATE INDEX signing_keys_tenant ON signing_keys (tenant_id, created_at);
CREATE UNIQUE INDEX signing_keys_one_primary ON signing_keys (tenant_id) WHERE status = 'primary';

-- pos is the global append order ListAudit pages by; seq orders one chain.
CREATE TABLE audit_events (
	pos        INTEGER PRIMARY KEY AUTOINCREMENT,
	tenant_id  TEXT NOT NULL,
	seq        INTEGER NOT NULL,
	event_id   TEXT NOT NULL UNIQUE,
	time       INTEGER,
	actor      TEXT NOT NULL,
	actor_type TEXT NOT NULL,
	action     TEXT NOT NULL,
	target     TEXT NOT NULL,
	outcome    TEXT NOT NULL,
	reason     TEXT NOT NULL,
	client_ip  TEXT NOT NULL,
	metadata   BLOB, -- exact bytes: they are hashed
	prev_hash  TEXT NOT NULL,
	hash       TEXT NOT NULL,
	UNIQUE (tenant_id, seq)
) STRICT;
-- Deliberately no index on time: every index costs each append, and the
-- batched writer must sustain tens of thousands of events a second. Time
-- filters ride the pos order with a limit; pruning walks (tenant_id, seq).
CREATE INDEX audit_events_tenant_pos ON audit_events (tenant_id, pos);

CREATE TABLE audit_heads (
	tenant_id TEXT PRIMARY KEY,
	seq       INTEGER NOT NULL,
	hash      TEXT NOT NULL
) STRICT;

CREATE TABLE audit_checkpoints (
	tenant_id TEXT NOT NULL,
	seq       INTEGER NOT NULL,
	hash      TEXT NOT NULL,
	cutoff    INTEGER NOT NULL, -- the day boundary the prune used
	PRIMARY KEY (tenant_id, seq)
) STRICT;

-- Audit rows are append-only. SQLite has no roles, so anything that can
-- open the file can drop these triggers; they exist to make a stray UPDATE
-- or DELETE fail loudly. PruneAudit inserts the marker row, deletes whole
-- segments and removes the marker, all inside one write transaction, so no
-- other connection ever sees the marker.
CREATE TABLE audit_prune_marker (one INTEGER PRIMARY KEY CHECK (one = 1)) STRICT;

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
	SELECT RAISE(ABORT, 'audit events are append-only');
END;

CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
WHEN NOT EXISTS (SELECT 1 FROM audit_prune_marker)
BEGIN
	SELECT RAISE(ABORT, 'audit events are append-only; prune whole segments');
END;
