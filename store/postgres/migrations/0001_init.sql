-- Tenant-owned tables carry tenant_id and are guarded by row-level security
-- (enabled and forced): tollgate_app sees the rows of the tenant named by
-- the transaction-local setting app.tenant_id and nothing when it is unset
-- or empty (platform rows have tenant_id ''); tollgate_admin sees all.
-- Identifiers that the store orders or pages by use COLLATE "C" so that
-- their order is byte order, the same as Go's and SQLite's, whatever the
-- database's locale.

CREATE TABLE tenants (
	tenant_id     text COLLATE "C" PRIMARY KEY,
	name          text NOT NULL,
	status        text NOT NULL,
	mode          text NOT NULL,
	sign          boolean NOT NULL,
	signing_scope text NOT NULL,
	policy        jsonb NOT NULL,
	quotas        jsonb NOT NULL,
	declarative   boolean NOT NULL,
	created_at    timestamptz,
	updated_at    timestamptz
);

-- No foreign key to tenants: platform keys have tenant_id '' and a deleted
-- tenant's keys stay behind, revoked, for the record.
CREATE TABLE api_keys (
	key_id       text COLLATE "C" PRIMARY KEY,
	tenant_id    text COLLATE "C" NOT NULL,
	hash         bytea NOT NULL UNIQUE,
	scopes       jsonb NOT NULL,
	description  text NOT NULL,
	allowed_ips  jsonb NOT NULL,
	status       text NOT NULL,
	expires_at   timestamptz,
	created_at   timestamptz,
	last_used_at timestamptz,
	revoked_at   timestamptz
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id, key_id);

CREATE TABLE signing_keys (
	key_id      text COLLATE "C" PRIMARY KEY,
	tenant_id   text COLLATE "C" NOT NULL REFERENCES tenants (tenant_id),
	status      text NOT NULL,
	created_at  timestamptz,
	grace_until timestamptz,
	sealed      bytea NOT NULL
);
CREATE INDEX signing_keys_tenant ON signing_keys (tenant_id, created_at);
CREATE UNIQUE INDEX signing_keys_one_primary ON signing_keys (tenant_id) WHERE status = 'primary';

-- time_ns is Unix nanoseconds: the event time is part of the hash, and
-- timestamptz would cut it to microseconds. metadata is bytea for the same
-- reason: jsonb would reorder its keys. pos is the global append order.
CREATE TABLE audit_events (
	pos        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	tenant_id  text COLLATE "C" NOT NULL,
	seq        bigint NOT NULL,
	event_id   text NOT NULL UNIQUE,
	time_ns    bigint,
	actor      text NOT NULL,
	actor_type text NOT NULL,
	action     text NOT NULL,
	target     text NOT NULL,
	outcome    text NOT NULL,
	reason     text NOT NULL,
	client_ip  text NOT NULL,
	metadata   bytea,
	prev_hash  text NOT NULL,
	hash       text NOT NULL,
	UNIQUE (tenant_id, seq)
);
CREATE INDEX audit_events_tenant_pos ON audit_events (tenant_id, pos);
CREATE INDEX audit_events_tenant_time ON audit_events (tenant_id, time_ns);

-- One row per chain, locked FOR UPDATE by every appender: the lock that
-- keeps replicas from forking a chain.
CREATE TABLE audit_heads (
	tenant_id text COLLATE "C" PRIMARY KEY,
	seq       bigint NOT NULL,
	hash      text NOT NULL
);

CREATE TABLE audit_checkpoints (
	tenant_id text COLLATE "C" NOT NULL,
	seq       bigint NOT NULL,
	hash      text NOT NULL,
	cutoff_ns bigint NOT NULL,
	PRIMARY KEY (tenant_id, seq)
);

DO $$
DECLARE
	t text;
BEGIN
	FOREACH t IN ARRAY ARRAY['tenants', 'api_keys', 'signing_keys', 'audit_events'] LOOP
		EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
		EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
		EXECUTE format($f$CREATE POLICY tenant_isolation ON %I TO tollgate_app
			USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), ''))
			WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), ''))$f$, t);
		EXECUTE format('CREATE POLICY admin_all ON %I TO tollgate_admin USING (true) WITH CHECK (true)', t);
	END LOOP;
END $$;

-- Append-only audit trail. Neither role has UPDATE or DELETE on it; this
-- trigger also stops the owner. The only deletion path is audit_prune(),
-- which runs as the owner and sets tollgate.audit_prune for its own
-- transaction only.
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'DELETE' AND current_setting('tollgate.audit_prune', true) = 'on' THEN
		RETURN OLD;
	END IF;
	RAISE EXCEPTION 'audit events are append-only (% refused)', TG_OP
		USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
	FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
	FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

-- audit_prune removes, per chain and oldest first, the whole UTC-day
-- segments that end at or before cutoff_ns (a day boundary), stopping at
-- the first event that is not older, so a chain only ever loses a prefix;
-- it records the last removed event's hash as the chain's checkpoint. Heads
-- are locked in byte order, the order appenders lock them in.
CREATE FUNCTION audit_prune(cutoff_ns bigint) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
	h record;
	done_seq bigint;
	keep_seq bigint;
	last_seq bigint;
	last_hash text;
	n bigint;
	total bigint := 0;
BEGIN
	PERFORM set_config('tollgate.audit_prune', 'on', true);
	FOR h IN SELECT tenant_id, seq FROM audit_heads ORDER BY tenant_id FOR UPDATE LOOP
		SELECT coalesce(max(c.seq), 0) INTO done_seq FROM audit_checkpoints c WHERE c.tenant_id = h.tenant_id;
		SELECT min(e.seq) INTO keep_seq FROM audit_events e
			WHERE e.tenant_id = h.tenant_id AND (e.time_ns IS NULL OR e.time_ns >= cutoff_ns);
		last_seq := coalesce(keep_seq - 1, h.seq);
		CONTINUE WHEN last_seq <= done_seq;
		SELECT e.hash INTO STRICT last_hash FROM audit_events e WHERE e.tenant_id = h.tenant_id AND e.seq = last_seq;
		DELETE FROM audit_events e WHERE e.tenant_id = h.tenant_id AND e.seq <= last_seq;
		GET DIAGNOSTICS n = ROW_COUNT;
		total := total + n;
		INSERT INTO audit_checkpoints (tenant_id, seq, hash, cutoff_ns) VALUES (h.tenant_id, last_seq, last_hash, audit_prune.cutoff_ns);
	END LOOP;
	PERFORM set_config('tollgate.audit_prune', 'off', true);
	RETURN total;
END $$;
REVOKE ALL ON FUNCTION audit_prune(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit_prune(bigint) TO tollgate_admin;

DO $$
BEGIN
	-- A SECURITY DEFINER function must not resolve names through the
	-- caller's search_path.
	EXECUTE format('ALTER FUNCTION audit_prune(bigint) SET search_path = pg_catalog, %I, pg_temp', current_schema());
	EXECUTE format('GRANT USAGE ON SCHEMA %I TO tollgate_app, tollgate_admin', current_schema());
END $$;

-- tollgate_app: the scoped control plane. Keys are revoked, never deleted.
GRANT SELECT, INSERT, UPDATE, DELETE ON tenants, signing_keys TO tollgate_app;
GRANT SELECT, INSERT, UPDATE ON api_keys TO tollgate_app;
GRANT SELECT ON audit_events TO tollgate_app;

-- tollgate_admin: every tenant, and the audit appender.
GRANT SELECT, INSERT, UPDATE, DELETE ON tenants, signing_keys TO tollgate_admin;
GRANT SELECT, INSERT, UPDATE ON api_keys TO tollgate_admin;
GRANT SELECT, INSERT ON audit_events TO tollgate_admin;
GRANT SELECT, INSERT, UPDATE ON audit_heads TO tollgate_admin;
GRANT SELECT ON audit_checkpoints TO tollgate_admin;
