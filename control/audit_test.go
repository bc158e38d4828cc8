package control

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/control/client"
)

// Every change is in the trail when its response arrives, with its actor.
func TestAuditEveryChange(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.mustTenant("acme")
	w := e.mustKey("w", "acme", tollgate.ScopeControlWrite)
	wc := e.client(w.Key)
	k, _ := wc.CreateKey(ctx, "acme", client.CreateKeyRequest{Scopes: []tollgate.Scope{tollgate.ScopeProxy}})
	steps := []struct {
		do        func() error
		chain     string
		action    string
		actor     string
		actorType tollgate.ActorType
	}{
		{func() error { _, err := wc.PatchTenant(ctx, "acme", json.RawMessage(`{"name":"x"}`)); return err }, "acme", "tenant.update", w.ID, tollgate.ActorKey},
		{func() error { _, err := wc.RotateKey(ctx, "acme", k.ID, time.Hour); return err }, "acme", "key.rotate", w.ID, tollgate.ActorKey},
		{func() error { return wc.RevokeKey(ctx, "acme", k.ID) }, "acme", "key.revoke", w.ID, tollgate.ActorKey},
		{func() error { _, err := wc.RotateSigningKey(ctx, "acme", time.Hour); return err }, "acme", "signing_key.rotate", w.ID, tollgate.ActorKey},
		{func() error {
			_, err := e.admin.CreatePlatformKey(ctx, client.CreateKeyRequest{Scopes: []tollgate.Scope{tollgate.ScopeProxyAnyTenant}})
			return err
		}, "", "key.create", "admin", tollgate.ActorAdmin},
		{func() error { return e.admin.DeleteTenant(ctx, "acme") }, "acme", "tenant.delete", "admin", tollgate.ActorAdmin},
	}
	for _, s := range steps {
		t.Run(s.action, func(t *testing.T) {
			n := len(e.events(s.chain))
			if err := s.do(); err != nil {
				t.Fatal(err)
			}
			evs := e.events(s.chain)
			ev := lastEvent(t, evs)
			if len(evs) != n+1 || ev.Action != s.action || ev.Actor != s.actor || ev.ActorType != s.actorType ||
				ev.Outcome != tollgate.OutcomeSuccess || ev.ClientIP != "127.0.0.1" || ev.Hash == "" || !ev.Time.Equal(t0) {
				t.Errorf("event %+v (%d new)", ev, len(evs)-n)
			}
		})
	}
	for _, chain := range []string{"", "acme"} {
		res, err := e.admin.VerifyAudit(ctx, chain)
		if err != nil || !res.OK || res.Events != len(e.events(chain)) {
			t.Errorf("verify %q: %+v %v", chain, res, err)
		}
	}
}

func TestAuditIsolationAndFilters(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.mustTenant("acme")
	e.mustTenant("globex")
	acme := e.client(e.mustKey("ar", "acme", tollgate.ScopeControlRead).Key)
	e.clock.Add(time.Hour)
	e.mustKey("g1", "globex", tollgate.ScopeProxy)
	e.mustKey("a1", "acme", tollgate.ScopeProxy)

	l, err := acme.ListAudit(ctx, client.AuditFilter{})
	if err != nil || len(l.Items) != 3 {
		t.Fatalf("own audit: %d events, %v", len(l.Items), err)
	}
	for _, ev := range l.Items {
		if ev.Tenant != "acme" {
			t.Errorf("tenant key saw %s's event", ev.Tenant)
		}
	}
	if _, err := acme.ListAudit(ctx, client.AuditFilter{Tenant: "globex"}); !isStatus(err, 404) {
		t.Errorf("other tenant's audit: %v", err)
	}
	if _, err := acme.VerifyAudit(ctx, "globex"); !isStatus(err, 404) {
		t.Errorf("other tenant's verify: %v", err)
	}
	var buf bytes.Buffer
	if err := acme.ExportAudit(ctx, "globex", &buf); !isStatus(err, 404) || buf.Len() != 0 {
		t.Errorf("other tenant's export: %v %q", err, buf.String())
	}
	buf.Reset()
	if err := acme.ExportAudit(ctx, "", &buf); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(&buf)
	lines := 0
	for sc.Scan() {
		var ev tollgate.AuditEvent
		mustJSON(t, sc.Bytes(), &ev)
		if ev.Tenant != "acme" || ev.Hash == "" {
			t.Errorf("exported %+v", ev)
		}
		lines++
	}
	if lines != 3 {
		t.Errorf("exported %d lines, want 3", lines)
	}
	status, hdr, _ := e.do("GET", "/v1/audit/export?tenant=acme", adminToken, "", "")
	if status != 200 || hdr.Get("Content-Type") != "application/x-ndjson" {
		t.Errorf("export %d %q", status, hdr.Get("Content-Type"))
	}
	res, err := acme.VerifyAudit(ctx, "")
	if err != nil || !res.OK || res.Events != 3 || res.Head == "" {
		t.Errorf("verify own: %+v %v", res, err)
	}

	filters := []struct {
		name string
		f    client.AuditFilter
		want []string // actions, newest first
	}{
		{"admin all chains", client.AuditFilter{}, []string{"key.create", "key.create", "key.create", "tenant.create", "tenant.create"}},
		{"admin one tenant", client.AuditFilter{Tenant: "globex"}, []string{"key.create", "tenant.create"}},
		{"action", client.AuditFilter{Tenant: "acme", Action: "tenant.create"}, []string{"tenant.create"}},
		{"since", client.AuditFilter{Tenant: "acme", Since: t0.Add(time.Hour)}, []string{"key.create"}},
		{"until", client.AuditFilter{Tenant: "acme", Until: t0.Add(time.Minute)}, []string{"key.create", "tenant.create"}},
		{"outcome", client.AuditFilter{Outcome: tollgate.OutcomeBlocked}, nil},
	}
	for _, tc := range filters {
		t.Run(tc.name, func(t *testing.T) {
			l, err := e.admin.ListAudit(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, ev := range l.Items {
				got = append(got, ev.Action)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("actions %v, want %v", got, tc.want)
			}
		})
	}
	for _, q := range []string{"outcome=maybe", "since=yesterday", "until=2026-13-01T00:00:00Z"} {
		if status, _, body := e.do("GET", "/v1/audit?"+q, adminToken, "", ""); status != 422 {
			t.Errorf("%s: %d %s", q, status, body)
		}
	}
}

func TestAuditPagination(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.mustTenant("acme")
	for range 6 {
		e.mustKey("k", "acme", tollgate.ScopeProxy)
	}
	seen := map[string]bool{}
	cursor := ""
	for pages := 0; ; pages++ {
		l, err := e.admin.ListAudit(ctx, client.AuditFilter{Tenant: "acme", Limit: 2, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range l.Items {
			if seen[ev.ID] {
				t.Fatalf("event %s on two pages", ev.ID)
			}
			seen[ev.ID] = true
		}
		if cursor = l.NextCursor; cursor == "" || pages > 10 {
			break
		}
	}
	if len(seen) != 7 {
		t.Errorf("paged through %d events, want 7", len(seen))
	}
}
