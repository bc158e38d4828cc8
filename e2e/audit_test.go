package e2e

import (
	"bufio"
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/tollgate-dev/tollgate/resolver/dnstest"
)

type auditEvent struct {
	ID       string          `json:"id"`
	Tenant   string          `json:"tenant"`
	Action   string          `json:"action"`
	Outcome  string          `json:"outcome"`
	Reason   string          `json:"reason"`
	Target   string          `json:"target"`
	Metadata json.RawMessage `json:"metadata"`
	Hash     string          `json:"hash"`
}

// auditAll pages through GET /v1/audit as token.
func (in *instance) auditAll(t *testing.T, token, query string) (events []auditEvent, status int) {
	t.Helper()
	cursor := ""
	for {
		var page struct {
			Items      []auditEvent `json:"items"`
			NextCursor string       `json:"next_cursor"`
		}
		q := query + "&limit=500"
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		status = in.api(token, "GET", "/v1/audit?"+q, nil, &page)
		if status != 200 {
			return events, status
		}
		events = append(events, page.Items...)
		if page.NextCursor == "" {
			return events, status
		}
		cursor = page.NextCursor
	}
}

type verifyResult struct {
	OK       bool   `json:"ok"`
	Events   int    `json:"events"`
	Head     string `json:"head"`
	FirstBad string `json:"first_bad"`
}

// TestAuditTrail: traffic and control changes are audited per tenant,
// tenants cannot read each other's events, export round-trips, tampering
// with the SQLite file is detected, and SIGTERM loses no acknowledged event.
func TestAuditTrail(t *testing.T) {
	d := dnstest.Start(t)
	pub := upstreamIP()
	startEcho(t, pub, 443, nil)
	d.Set("hook.test", "hook.test. 60 IN A "+pub)
	d.Set("meta.test", "meta.test. 60 IN A 169.254.169.254")
	cfg := baseConfig(t, d)
	section(cfg, "proxy")["require_auth"] = true
	section(cfg, "log")["level"] = "warn"
	in := start(t, cfg)

	in.createTenant(t, "acme", nil)
	in.createTenant(t, "beta", nil)
	acme := in.createKey(t, "acme", map[string]any{"scopes": []string{"proxy"}})
	acmeRead := in.createKey(t, "acme", map[string]any{"scopes": []string{"control:read"}})
	beta := in.createKey(t, "beta", map[string]any{"scopes": []string{"proxy"}})

	if r := in.connect(t, "hook.test:443", "acme", acme.Key); r.status == 200 {
		r.conn.Close()
	} else {
		t.Fatalf("allowed CONNECT: %d", r.status)
	}
	in.connect(t, "meta.test:443", "acme", acme.Key)
	in.connect(t, "meta.test:443", "beta", beta.Key)

	var events []auditEvent
	waitUntil(t, "proxy events to be flushed", func() bool {
		events, _ = in.auditAll(t, in.adminToken, "tenant=acme")
		n := 0
		for _, e := range events {
			if strings.HasPrefix(e.Action, "proxy.") {
				n++
			}
		}
		return n >= 2
	})
	var sawAllowed, sawBlocked, sawKeyCreate bool
	for _, e := range events {
		if e.Tenant != "acme" {
			t.Fatalf("tenant=acme listed an event of %q", e.Tenant)
		}
		switch {
		case strings.HasPrefix(e.Action, "proxy.") && e.Outcome == "success" && strings.HasPrefix(e.Target, "hook.test"):
			sawAllowed = true
		case strings.HasPrefix(e.Action, "proxy.") && e.Outcome == "blocked" && e.Reason == "forbidden_address":
			sawBlocked = true
		case e.Action == "key.create":
			sawKeyCreate = true
		}
		if strings.Contains(string(e.Metadata), "tg_live_") {
			t.Fatalf("an API key leaked into audit metadata: %s", e.Metadata)
		}
	}
	if !sawAllowed || !sawBlocked || !sawKeyCreate {
		t.Fatalf("missing events (allowed %v, blocked %v, key.create %v) in %+v", sawAllowed, sawBlocked, sawKeyCreate, events)
	}

	t.Run("tenant isolation", func(t *testing.T) {
		own, st := in.auditAll(t, acmeRead.Key, "tenant=acme")
		if st != 200 || len(own) == 0 {
			t.Fatalf("own events: %d, %d events", st, len(own))
		}
		other, st := in.auditAll(t, acmeRead.Key, "tenant=beta")
		if st == 200 && len(other) > 0 {
			t.Fatalf("acme's key read %d events of beta", len(other))
		}
		var v verifyResult
		if st := in.api(acmeRead.Key, "GET", "/v1/audit/verify?tenant=beta", nil, &v); st == 200 && v.Events > 0 {
			t.Fatalf("acme's key verified beta's chain: %+v", v)
		}
	})

	t.Run("export round-trips and verifies", func(t *testing.T) {
		req, _ := http.NewRequest("GET", "http://"+in.ctrlAddr+"/v1/audit/export?tenant=acme", nil)
		req.Header.Set("Authorization", "Bearer "+in.adminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/x-ndjson") {
			t.Fatalf("export content type %q", resp.Header.Get("Content-Type"))
		}
		var exported []auditEvent
		sc := bufio.NewScanner(bytes.NewReader(raw))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var e auditEvent
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				t.Fatalf("export line %q: %v", sc.Text(), err)
			}
			exported = append(exported, e)
		}
		listed, _ := in.auditAll(t, in.adminToken, "tenant=acme")
		if len(exported) != len(listed) {
			t.Fatalf("export has %d events, list %d", len(exported), len(listed))
		}
		var v verifyResult
		if st := in.api(in.adminToken, "GET", "/v1/audit/verify?tenant=acme", nil, &v); st != 200 || !v.OK || v.Events != len(exported) || v.Head != exported[len(exported)-1].Hash {
			t.Fatalf("verify: %d %+v (exported %d, last hash %s)", st, v, len(exported), exported[len(exported)-1].Hash)
		}
	})

	t.Run("SIGTERM loses no acknowledged event", func(t *testing.T) {
		before := countProxyEvents(t, in, "beta")
		const n = 300
		var wg sync.WaitGroup
		var mu sync.Mutex
		acked := 0
		for range n {
			wg.Go(func() {
				r := in.connect(t, "hook.test:22", "beta", beta.Key) // forbidden_port: answered at once
				mu.Lock()
				defer mu.Unlock()
				if r.status == 403 {
					acked++
				}
			})
		}
		wg.Wait()
		in.stop(syscall.SIGTERM)
		in2 := start(t, cfg)
		after := countProxyEvents(t, in2, "beta")
		if after-before != acked || acked != n {
			t.Fatalf("%d refusals acknowledged, %d events stored after SIGTERM", acked, after-before)
		}
	})

	t.Run("tampering with the SQLite file is detected", func(t *testing.T) {
		cur := start(t, cfg) // the instance of the previous step has stopped
		listed, _ := cur.auditAll(t, cur.adminToken, "tenant=acme")
		victim := listed[len(listed)/2].ID
		cur.stop(syscall.SIGTERM)
		db, err := sql.Open("sqlite", filepath.Join(cfg["data_dir"].(string), "tollgate.db"))
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{
			`DROP TRIGGER IF EXISTS audit_events_no_update`,
			fmt.Sprintf(`UPDATE audit_events SET target = 'evil.test:443' WHERE event_id = '%s'`, victim),
		} {
			if _, err := db.Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		db.Close()
		in3 := start(t, cfg)
		var v verifyResult
		if st := in3.api(in3.adminToken, "GET", "/v1/audit/verify?tenant=acme", nil, &v); st != 200 || v.OK || v.FirstBad != victim {
			t.Fatalf("verify after tampering with %s: %d %+v", victim, st, v)
		}
	})
}

func countProxyEvents(t *testing.T, in *instance, tenant string) int {
	t.Helper()
	events, st := in.auditAll(t, in.adminToken, "tenant="+tenant)
	if st != 200 {
		t.Fatalf("list audit: %d", st)
	}
	n := 0
	for _, e := range events {
		if strings.HasPrefix(e.Action, "proxy.") {
			n++
		}
	}
	return n
}
