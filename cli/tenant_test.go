package cli

import (
	"net/http"
	"testing"
)

const tenantJSON = `{"id":"acme","name":"Acme Corp","status":"active","mode":"intercept","sign":true,"signing_scope":"host",
"policy":{"allowed_hosts":["*.acme.com"],"denied_hosts":[],"allow_cidrs":["10.20.0.0/16"],"allowed_ports":[80,443],"allow_plain_http":false,"upgrade_http":true,"max_body_bytes":1048576},
"quotas":{"requests_per_second":50,"burst":100,"max_concurrent":0,"bytes_per_second":0,"per_key_requests_per_second":0,"per_host_requests_per_second":0},
"declarative":false,"created_at":"2026-11-01T10:00:00Z","updated_at":"2026-11-02T10:00:00Z"}`

const tenantListJSON = `{"items":[` + tenantJSON + `,
{"id":"globex-corp","name":"Globex","status":"suspended","mode":"tunnel","sign":false,"signing_scope":"tenant","policy":{},"quotas":{"requests_per_second":2.5},"created_at":"2026-11-03T00:00:00Z"}],
"next_cursor":"c2"}`

func TestTenantCommands(t *testing.T) {
	cases := []struct {
		name     string
		args     []string
		routes   map[string]canned
		want     []wantReq
		code     int
		out, err string
	}{
		{
			name:   "create sends only the flags given",
			args:   []string{"tenant", "create", "acme", "--name", "Acme Corp", "--mode", "intercept", "--allowed-hosts", "*.acme.com", "--rps", "50", "--burst", "100"},
			routes: map[string]canned{"POST /v1/tenants": created(tenantJSON)},
			want: []wantReq{{"POST", "/v1/tenants", "", `{"id":"acme","name":"Acme Corp","mode":"intercept",
				"policy":{"allowed_hosts":["*.acme.com"]},"quotas":{"requests_per_second":50,"burst":100}}`}},
			out: "id:                           acme\nname:                         Acme Corp\n",
		},
		{
			name:   "create with flags after nothing else",
			args:   []string{"tenant", "create", "--sign=false", "--allowed-ports", "443,8443", "--allow-cidrs", "10.20.0.0/16", "--per-host-rps", "0.5", "acme"},
			routes: map[string]canned{"POST /v1/tenants": created(tenantJSON)},
			want: []wantReq{{"POST", "/v1/tenants", "", `{"id":"acme","sign":false,
				"policy":{"allowed_ports":[443,8443],"allow_cidrs":["10.20.0.0/16"]},"quotas":{"per_host_requests_per_second":0.5}}`}},
			out: "allow_cidrs:                  10.20.0.0/16\n",
		},
		{
			name:   "create --json",
			args:   []string{"tenant", "create", "acme", "--json"},
			routes: map[string]canned{"POST /v1/tenants": created(tenantJSON)},
			want:   []wantReq{{"POST", "/v1/tenants", "", `{"id":"acme"}`}},
			out:    `"signing_scope": "host"`,
		},
		{
			name:   "create conflict is a runtime failure",
			args:   []string{"tenant", "create", "acme"},
			routes: map[string]canned{"POST /v1/tenants": problem(http.StatusConflict, `tenant "acme" already exists`)},
			want:   []wantReq{{"POST", "/v1/tenants", "", `{"id":"acme"}`}},
			code:   ExitFailure,
			err:    `tollgate: the control API refused the request with 409 Conflict (tenant "acme" already exists)`,
		},
		{
			name:   "create rejected field is a usage error",
			args:   []string{"tenant", "create", "acme", "--allowed-hosts", "a..b"},
			routes: map[string]canned{"POST /v1/tenants": problem(http.StatusUnprocessableEntity, "policy.allowed_hosts[0] is not a host pattern")},
			want:   []wantReq{{"POST", "/v1/tenants", "", `{"id":"acme","policy":{"allowed_hosts":["a..b"]}}`}},
			code:   ExitUsage,
			err:    "422 Unprocessable Entity (policy.allowed_hosts[0] is not a host pattern); fix the arguments",
		},
		{"create invalid id", []string{"tenant", "create", "Acme"}, nil, nil, ExitUsage, "", `invalid tenant id "Acme"`},
		{"create without id", []string{"tenant", "create"}, nil, nil, ExitUsage, "", "tenant create: missing argument"},
		{"create bad mode", []string{"tenant", "create", "acme", "--mode", "mitm"}, nil, nil, ExitUsage, "", `invalid --mode "mitm": use tunnel or intercept`},
		{"create bad port", []string{"tenant", "create", "acme", "--allowed-ports", "0"}, nil, nil, ExitUsage, "", `invalid port "0"`},
		{"create bad cidr", []string{"tenant", "create", "acme", "--allow-cidrs", "10.1.0.0/8"}, nil, nil, ExitUsage, "", "host bits are set"},
		{"create negative quota", []string{"tenant", "create", "acme", "--burst", "-1"}, nil, nil, ExitUsage, "", "--burst must not be negative"},
		{"create unknown flag", []string{"tenant", "create", "acme", "--colour", "red"}, nil, nil, ExitUsage, "", "flag provided but not defined: -colour"},
		{
			name:   "update sends a merge patch",
			args:   []string{"tenant", "update", "acme", "--status", "suspended", "--denied-hosts", "", "--max-concurrent", "8", "--upgrade-http=false"},
			routes: map[string]canned{"PATCH /v1/tenants/acme": ok(tenantJSON)},
			want: []wantReq{{"PATCH", "/v1/tenants/acme", "", `{"status":"suspended",
				"policy":{"denied_hosts":[],"upgrade_http":false},"quotas":{"max_concurrent":8}}`}},
			out: "status:                       active\n",
		},
		{"update nothing", []string{"tenant", "update", "acme"}, nil, nil, ExitUsage, "", "nothing to change"},
		{
			name:   "update unknown tenant",
			args:   []string{"tenant", "update", "nope", "--name", "x"},
			routes: map[string]canned{},
			want:   []wantReq{{"PATCH", "/v1/tenants/nope", "", `{"name":"x"}`}},
			code:   ExitFailure,
			err:    "not found (no such route in the test); check the tenant and id",
		},
		{
			name:   "get",
			args:   []string{"tenant", "get", "acme"},
			routes: map[string]canned{"GET /v1/tenants/acme": ok(tenantJSON)},
			want:   []wantReq{{"GET", "/v1/tenants/acme", "", ""}},
			out:    "requests_per_second:          50\nburst:                        100\nmax_concurrent:               unlimited\n",
		},
		{
			name:   "list table",
			args:   []string{"tenant", "list"},
			routes: map[string]canned{"GET /v1/tenants": ok(tenantListJSON)},
			want:   []wantReq{{"GET", "/v1/tenants", "", ""}},
			out: "=ID           NAME       STATUS     MODE       SIGN   RPS  CREATED\n" +
				"acme         Acme Corp  active     intercept  true   50   2026-11-01T10:00:00Z\n" +
				"globex-corp  Globex     suspended  tunnel     false  2.5  2026-11-03T00:00:00Z\n",
			err: "more results: rerun 'tollgate tenant list' with --cursor c2",
		},
		{
			name:   "list page",
			args:   []string{"tenant", "list", "--limit", "1", "--cursor", "c2", "--json"},
			routes: map[string]canned{"GET /v1/tenants": ok(`{"items":[],"next_cursor":""}`)},
			want:   []wantReq{{"GET", "/v1/tenants", "cursor=c2&limit=1", ""}},
			out:    "=" + "{\n  \"items\": [],\n  \"next_cursor\": \"\"\n}\n",
		},
		{
			name:   "delete",
			args:   []string{"tenant", "delete", "acme"},
			routes: map[string]canned{"DELETE /v1/tenants/acme": noContent()},
			want:   []wantReq{{"DELETE", "/v1/tenants/acme", "", ""}},
			out:    "=deleted tenant acme; its keys are revoked and its audit trail stays\n",
		},
		{"delete two ids", []string{"tenant", "delete", "a", "b"}, nil, nil, ExitUsage, "", `unexpected argument "b"`},
		{"no subcommand", []string{"tenant"}, nil, nil, ExitUsage, "usage", "tenant needs a subcommand"},
		{"unknown subcommand", []string{"tenant", "rename"}, nil, nil, ExitUsage, "", `unknown subcommand "rename" for tenant`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			api := newFakeAPI(t, tc.routes)
			res := runWith(t, api, nil, "", tc.args...)
			if tc.out == "usage" {
				tc.out = ""
			}
			res.check(t, tc.code, tc.out, tc.err)
			assertRequests(t, api.requests(), tc.want)
		})
	}
}
