package cli

import (
	"net/http"
	"testing"
)

const createdKeyJSON = `{"id":"key_01JDKZ0000000000000000000A","tenant":"acme","scopes":["proxy"],"description":"workers",
"allowed_ips":["203.0.113.0/24"],"expires_at":"2026-12-26T00:00:00Z","created_at":"2026-11-26T00:00:00Z","last_used_at":null,"status":"active",
"key":"tg_live_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAbbbbbb"}`

const keyListJSON = `{"items":[
{"id":"key_A","tenant":"acme","scopes":["proxy"],"description":"workers","allowed_ips":[],"expires_at":null,"created_at":"2026-11-01T00:00:00Z","last_used_at":"2026-11-25T12:00:00Z","status":"active"},
{"id":"key_B","tenant":"acme","scopes":["control:read","control:write"],"description":"","allowed_ips":["10.0.0.0/8"],"expires_at":"2026-11-20T00:00:00Z","created_at":"2026-10-01T00:00:00Z","last_used_at":null,"status":"active"}],
"next_cursor":""}`

const signingKeysJSON = `{"items":[
{"id":"sk_new","tenant":"acme","status":"primary","created_at":"2026-11-25T00:00:00Z","grace_until":null},
{"id":"sk_old","tenant":"acme","status":"grace","created_at":"2026-10-01T00:00:00Z","grace_until":"2026-11-26T06:00:00Z"},
{"id":"sk_older","tenant":"acme","status":"grace","created_at":"2026-09-01T00:00:00Z","grace_until":"2026-11-01T00:00:00Z"}],"next_cursor":""}`

func TestKeyCommands(t *testing.T) {
	cases := []struct {
		name     string
		args     []string
		routes   map[string]canned
		want     []wantReq
		code     int
		out, err string
	}{
		{
			name:   "create tenant key defaults to proxy scope",
			args:   []string{"key", "create", "--tenant", "acme", "--description", "workers", "--allowed-ips", "203.0.113.0/24", "--expires-in", "720h"},
			routes: map[string]canned{"POST /v1/tenants/acme/keys": created(createdKeyJSON)},
			want:   []wantReq{{"POST", "/v1/tenants/acme/keys", "", `{"scopes":["proxy"],"description":"workers","allowed_ips":["203.0.113.0/24"],"expires_in":"720h0m0s"}`}},
			out:    "key:         tg_live_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAbbbbbb\nid:          key_01JDKZ0000000000000000000A\n",
			err:    "Store this key now: it is not shown again.",
		},
		{
			name:   "create with scopes, bare ip",
			args:   []string{"key", "create", "--tenant", "acme", "--scopes", "proxy,control:read", "--allowed-ips", "198.51.100.7"},
			routes: map[string]canned{"POST /v1/tenants/acme/keys": created(createdKeyJSON)},
			want:   []wantReq{{"POST", "/v1/tenants/acme/keys", "", `{"scopes":["proxy","control:read"],"allowed_ips":["198.51.100.7/32"]}`}},
			out:    "expires_at:  2026-12-26T00:00:00Z",
			err:    "not shown again",
		},
		{
			name:   "create platform key --json",
			args:   []string{"key", "create", "--platform", "--scopes", "proxy:any-tenant", "--json"},
			routes: map[string]canned{"POST /v1/keys": created(createdKeyJSON)},
			want:   []wantReq{{"POST", "/v1/keys", "", `{"scopes":["proxy:any-tenant"]}`}},
			out:    `"key": "tg_live_`,
			err:    "not shown again",
		},
		{"create platform needs scopes", []string{"key", "create", "--platform"}, nil, nil, ExitUsage, "", "key create needs --scopes"},
		{"create needs owner", []string{"key", "create"}, nil, nil, ExitUsage, "", "key create needs --tenant T (or --platform"},
		{"create both owners", []string{"key", "create", "--tenant", "a", "--platform"}, nil, nil, ExitUsage, "", "not both"},
		{"create bad scope", []string{"key", "create", "--tenant", "a", "--scopes", "admin"}, nil, nil, ExitUsage, "", `unknown scope "admin"`},
		{"create bad ip", []string{"key", "create", "--tenant", "a", "--allowed-ips", "10.0.0.1/8"}, nil, nil, ExitUsage, "", "--allowed-ips"},
		{"create bad expiry", []string{"key", "create", "--tenant", "a", "--expires-in", "30d"}, nil, nil, ExitUsage, "", `invalid duration "30d"`},
		{"create zero expiry", []string{"key", "create", "--tenant", "a", "--expires-in", "0s"}, nil, nil, ExitUsage, "", "--expires-in must be positive"},
		{
			name:   "list shows effective status",
			args:   []string{"key", "list", "--tenant", "acme"},
			routes: map[string]canned{"GET /v1/tenants/acme/keys": ok(keyListJSON)},
			want:   []wantReq{{"GET", "/v1/tenants/acme/keys", "", ""}},
			out: "=ID     STATUS   SCOPES                      DESCRIPTION  ALLOWED IPS  EXPIRES               LAST USED             CREATED\n" +
				"key_A  active   proxy                       workers      any          never                 2026-11-25T12:00:00Z  2026-11-01T00:00:00Z\n" +
				"key_B  expired  control:read,control:write  -            10.0.0.0/8   2026-11-20T00:00:00Z  never                 2026-10-01T00:00:00Z\n",
		},
		{
			name:   "list platform",
			args:   []string{"key", "list", "--platform", "--limit", "5"},
			routes: map[string]canned{"GET /v1/keys": ok(`{"items":[],"next_cursor":""}`)},
			want:   []wantReq{{"GET", "/v1/keys", "limit=5", ""}},
			out:    "ID  STATUS",
		},
		{
			name:   "revoke with flag after id",
			args:   []string{"key", "revoke", "key_A", "--tenant", "acme"},
			routes: map[string]canned{"DELETE /v1/tenants/acme/keys/key_A": noContent()},
			want:   []wantReq{{"DELETE", "/v1/tenants/acme/keys/key_A", "", ""}},
			out:    "=revoked key key_A\n",
		},
		{
			name:   "revoke platform",
			args:   []string{"key", "revoke", "--platform", "key_P"},
			routes: map[string]canned{"DELETE /v1/keys/key_P": noContent()},
			want:   []wantReq{{"DELETE", "/v1/keys/key_P", "", ""}},
			out:    "revoked key key_P",
		},
		{"revoke without id", []string{"key", "revoke", "--tenant", "acme"}, nil, nil, ExitUsage, "", "key revoke: missing argument"},
		{
			name:   "rotate default grace",
			args:   []string{"key", "rotate", "--tenant", "acme", "key_A"},
			routes: map[string]canned{"POST /v1/tenants/acme/keys/key_A/rotate": created(createdKeyJSON)},
			want:   []wantReq{{"POST", "/v1/tenants/acme/keys/key_A/rotate", "", `{"grace_period":"168h0m0s"}`}},
			out:    "key:         tg_live_",
			err:    "The old key key_A stops working after 168h0m0s.",
		},
		{
			name:   "rotate --grace",
			args:   []string{"key", "rotate", "--tenant", "acme", "key_A", "--grace", "0s"},
			routes: map[string]canned{"POST /v1/tenants/acme/keys/key_A/rotate": created(createdKeyJSON)},
			want:   []wantReq{{"POST", "/v1/tenants/acme/keys/key_A/rotate", "", `{"grace_period":"0s"}`}},
			err:    "not shown again",
		},
		{"rotate negative grace", []string{"key", "rotate", "--tenant", "acme", "key_A", "--grace", "-1h"}, nil, nil, ExitUsage, "", "must not be negative"},
		{"rotate platform unsupported", []string{"key", "rotate", "--platform", "key_A"}, nil, nil, ExitUsage, "", "flag provided but not defined: -platform"},
		{
			name:   "forbidden",
			args:   []string{"key", "list", "--tenant", "acme"},
			routes: map[string]canned{"GET /v1/tenants/acme/keys": problem(http.StatusForbidden, "needs control:read")},
			want:   []wantReq{{"GET", "/v1/tenants/acme/keys", "", ""}},
			code:   ExitFailure,
			err:    "the token lacks the scope for this request (needs control:read)",
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

func TestSigningKeyCommands(t *testing.T) {
	secretJSON := `{"secret":"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw","host":"hooks.example.com","signing_key_id":"sk_new"}`
	cases := []struct {
		name     string
		args     []string
		routes   map[string]canned
		want     []wantReq
		code     int
		out, err string
	}{
		{
			name:   "list with effective status",
			args:   []string{"signing-key", "list", "--tenant", "acme"},
			routes: map[string]canned{"GET /v1/tenants/acme/signing-keys": ok(signingKeysJSON)},
			want:   []wantReq{{"GET", "/v1/tenants/acme/signing-keys", "", ""}},
			out: "=ID        STATUS   CREATED               GRACE UNTIL\n" +
				"sk_new    primary  2026-11-25T00:00:00Z  -\n" +
				"sk_old    grace    2026-10-01T00:00:00Z  2026-11-26T06:00:00Z\n" +
				"sk_older  retired  2026-09-01T00:00:00Z  2026-11-01T00:00:00Z\n",
		},
		{"list needs tenant", []string{"signing-key", "list"}, nil, nil, ExitUsage, "", "signing-key list needs --tenant"},
		{
			name:   "rotate default grace",
			args:   []string{"signing-key", "rotate", "--tenant", "acme"},
			routes: map[string]canned{"POST /v1/tenants/acme/signing-keys/rotate": created(`{"id":"sk_newer","tenant":"acme","status":"primary","created_at":"2026-11-26T00:00:00Z","grace_until":null}`)},
			want:   []wantReq{{"POST", "/v1/tenants/acme/signing-keys/rotate", "", `{"grace_period":"24h0m0s"}`}},
			out:    "id:         sk_newer\n",
			err:    "The previous key keeps signing for 24h0m0s",
		},
		{
			name:   "rotate --grace 0s after a leak",
			args:   []string{"signing-key", "rotate", "--tenant", "acme", "--grace", "0s", "--json"},
			routes: map[string]canned{"POST /v1/tenants/acme/signing-keys/rotate": created(`{"id":"sk_newer","tenant":"acme","status":"primary","created_at":"2026-11-26T00:00:00Z","grace_until":null}`)},
			want:   []wantReq{{"POST", "/v1/tenants/acme/signing-keys/rotate", "", `{"grace_period":"0s"}`}},
			out:    `"id": "sk_newer"`,
		},
		{
			name: "secret finds the primary key",
			args: []string{"signing-key", "secret", "--tenant", "acme", "--host", "hooks.example.com"},
			routes: map[string]canned{
				"GET /v1/tenants/acme/signing-keys":               ok(signingKeysJSON),
				"GET /v1/tenants/acme/signing-keys/sk_new/secret": ok(secretJSON),
			},
			want: []wantReq{
				{"GET", "/v1/tenants/acme/signing-keys", "", ""},
				{"GET", "/v1/tenants/acme/signing-keys/sk_new/secret", "host=hooks.example.com", ""},
			},
			out: "=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n",
		},
		{
			name:   "secret of a given key",
			args:   []string{"signing-key", "secret", "--tenant", "acme", "--host", "hooks.example.com", "--id", "sk_old", "--json"},
			routes: map[string]canned{"GET /v1/tenants/acme/signing-keys/sk_old/secret": ok(secretJSON)},
			want:   []wantReq{{"GET", "/v1/tenants/acme/signing-keys/sk_old/secret", "host=hooks.example.com", ""}},
			out:    `"signing_key_id": "sk_new"`,
		},
		{
			name:   "secret without primary",
			args:   []string{"signing-key", "secret", "--tenant", "acme"},
			routes: map[string]canned{"GET /v1/tenants/acme/signing-keys": ok(`{"items":[],"next_cursor":""}`)},
			want:   []wantReq{{"GET", "/v1/tenants/acme/signing-keys", "", ""}},
			code:   ExitFailure,
			err:    "tenant acme has no primary signing key",
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
