package cli

import (
	"testing"
	"time"
)

const auditListJSON = `{"items":[
{"id":"evt_2","time":"2026-11-25T10:00:01Z","tenant":"acme","actor":"key_A","actor_type":"key","action":"proxy.connect","target":"hooks.example.com:443","outcome":"blocked","reason":"forbidden_address","client_ip":"10.0.0.5","metadata":{},"prev_hash":"h1","hash":"h2"},
{"id":"evt_1","time":"2026-11-25T10:00:00Z","tenant":"","actor":"","actor_type":"admin","action":"tenant.create","target":"acme","outcome":"success","reason":"","client_ip":"127.0.0.1","metadata":null,"prev_hash":"","hash":"h1"}],
"next_cursor":"n1"}`

func TestAuditCommands(t *testing.T) {
	cases := []struct {
		name     string
		args     []string
		routes   map[string]canned
		want     []wantReq
		code     int
		out, err string
	}{
		{
			name:   "list table",
			args:   []string{"audit", "list"},
			routes: map[string]canned{"GET /v1/audit": ok(auditListJSON)},
			want:   []wantReq{{"GET", "/v1/audit", "", ""}},
			out: "=TIME                  TENANT      ACTOR      ACTION         TARGET                 OUTCOME  REASON             ID\n" +
				"2026-11-25T10:00:01Z  acme        key:key_A  proxy.connect  hooks.example.com:443  blocked  forbidden_address  evt_2\n" +
				"2026-11-25T10:00:00Z  (platform)  admin      tenant.create  acme                   success  -                  evt_1\n",
			err: "--cursor n1",
		},
		{
			name: "list filters",
			args: []string{"audit", "list", "--tenant", "acme", "--action", "proxy.connect", "--outcome", "blocked",
				"--since", "24h", "--until", "2026-11-25T12:00:00Z", "--limit", "50", "--cursor", "n1"},
			routes: map[string]canned{"GET /v1/audit": ok(`{"items":[],"next_cursor":""}`)},
			want: []wantReq{{"GET", "/v1/audit",
				"action=proxy.connect&cursor=n1&limit=50&outcome=blocked&since=2026-11-25T00%3A00%3A00Z" +
					"&tenant=acme&until=2026-11-25T12%3A00%3A00Z", ""}},
			out: "TIME",
		},
		{"list bad outcome", []string{"audit", "list", "--outcome", "denied"}, nil, nil, ExitUsage, "", `invalid --outcome "denied"`},
		{"list bad since", []string{"audit", "list", "--since", "yesterday"}, nil, nil, ExitUsage, "", `invalid --since "yesterday"`},
		{"list negative limit", []string{"audit", "list", "--limit", "-1"}, nil, nil, ExitUsage, "", "--limit must not be negative"},
		{
			name:   "export streams ndjson",
			args:   []string{"audit", "export", "--tenant", "acme"},
			routes: map[string]canned{"GET /v1/audit/export": {200, "application/x-ndjson", "{\"id\":\"evt_1\"}\n{\"id\":\"evt_2\"}\n"}},
			want:   []wantReq{{"GET", "/v1/audit/export", "tenant=acme", ""}},
			out:    "={\"id\":\"evt_1\"}\n{\"id\":\"evt_2\"}\n",
		},
		{
			name:   "verify ok",
			args:   []string{"audit", "verify", "--tenant", "acme"},
			routes: map[string]canned{"GET /v1/audit/verify": ok(`{"ok":true,"events":42,"head":"abc123"}`)},
			want:   []wantReq{{"GET", "/v1/audit/verify", "tenant=acme", ""}},
			out:    "=ok: 42 events, head abc123\n",
		},
		{
			name:   "verify broken exits 1",
			args:   []string{"audit", "verify"},
			routes: map[string]canned{"GET /v1/audit/verify": ok(`{"ok":false,"events":7,"head":"abc","first_bad":"evt_5"}`)},
			want:   []wantReq{{"GET", "/v1/audit/verify", "", ""}},
			code:   ExitFailure,
			out:    "=broken: first bad event evt_5 (7 events checked)\n",
		},
		{
			name:   "verify broken --json exits 1",
			args:   []string{"audit", "verify", "--json"},
			routes: map[string]canned{"GET /v1/audit/verify": ok(`{"ok":false,"events":7,"head":"abc","first_bad":"evt_5"}`)},
			want:   []wantReq{{"GET", "/v1/audit/verify", "", ""}},
			code:   ExitFailure,
			out:    `"first_bad": "evt_5"`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			api := newFakeAPI(t, tc.routes)
			res := runWith(t, api, nil, "", tc.args...)
			res.check(t, tc.code, tc.out, tc.err)
			assertRequests(t, api.requests(), tc.want)
		})
	}
}

func TestParseWhen(t *testing.T) {
	cases := []struct {
		in   string
		want time.Time
		err  bool
	}{
		{"", time.Time{}, false},
		{"2026-11-25T12:00:00Z", time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC), false},
		{"2026-11-25T12:00:00.5+01:00", time.Date(2026, 11, 25, 11, 0, 0, 5e8, time.UTC), false},
		{"90m", fixedNow.Add(-90 * time.Minute), false},
		{"0s", fixedNow, false},
		{"-1h", time.Time{}, true},
		{"2026-11-25", time.Time{}, true},
		{"soon", time.Time{}, true},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseWhen("since", tc.in, fixedNow)
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want error %v", err, tc.err)
			}
			if !got.Equal(tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func FuzzParseWhen(f *testing.F) {
	for _, s := range []string{"", "2026-11-25T12:00:00Z", "90m", "-1h", "soon", "1e3h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseWhen("since", s, fixedNow)
		if err == nil && s != "" && got.IsZero() {
			t.Fatalf("%q accepted as the zero time", s)
		}
		if d, derr := time.ParseDuration(s); derr == nil && d >= 0 && err == nil && got.After(fixedNow) {
			t.Fatalf("%q: a duration ago is in the future", s)
		}
	})
}
