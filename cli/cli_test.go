package cli

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestUsage(t *testing.T) {
	cases := []struct {
		name string
		args []string
		code int
		out  string
		err  string
	}{
		{"no args", nil, ExitUsage, "", "missing subcommand; use one of: audit, config, key, signing-key, tenant, verify"},
		{"unknown", []string{"serve"}, ExitUsage, "", `unknown subcommand "serve"`},
		{"group help", []string{"key", "--help"}, ExitOK, "", "usage: tollgate key create|list|revoke|rotate"},
		{"command help", []string{"tenant", "create", "-h"}, ExitOK, "", "usage: tollgate tenant create [flags] ID"},
		{"help lists flags", []string{"key", "create", "-h"}, ExitOK, "", "-expires-in"},
		{"config without sub", []string{"config"}, ExitUsage, "", "config needs a subcommand: check"},
		{"config check without file", []string{"config", "check"}, ExitUsage, "", "config check: missing argument"},
		{"bad flag value", []string{"tenant", "list", "--limit", "many"}, ExitUsage, "", "invalid value \"many\" for flag -limit"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			api := newFakeAPI(t, nil)
			res := runWith(t, api, nil, "", tc.args...)
			res.check(t, tc.code, tc.out, tc.err)
			if n := len(api.requests()); n != 0 {
				t.Errorf("usage error sent %d requests", n)
			}
			if tc.code == ExitUsage && strings.Count(strings.TrimSpace(res.stderr), "\n") > 1 {
				t.Errorf("usage error is more than one sentence: %q", res.stderr)
			}
		})
	}
}

func TestCommands(t *testing.T) {
	want := []string{"audit", "config", "key", "signing-key", "tenant", "verify"}
	if got := Commands(); !slices.Equal(got, want) {
		t.Errorf("Commands() = %v, want %v", got, want)
	}
}

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	writeFile(t, good, "proxy:\n  listen: 127.0.0.1:3128\n")
	bad := filepath.Join(dir, "bad.yaml")
	writeFile(t, bad, "proxy:\n  listen: 127.0.0.1:3128\negress:\n  allow_cidrs: [10.0.0.0/8, 10.0.0.0/33]\nlog:\n  levle: info\n")
	cases := []struct {
		name     string
		file     string
		code     int
		out, err string
	}{
		{"ok", good, ExitOK, "=" + good + ": ok\n", ""},
		{"example", "../deploy/tollgate.example.yaml", ExitOK, "=../deploy/tollgate.example.yaml: ok\n", ""},
		{"errors name file line key", bad, ExitUsage, "", bad + ":4: egress.allow_cidrs[1]: invalid CIDR \"10.0.0.0/33\"\n" + bad + ":6: log.levle: unknown key"},
		{"missing file", filepath.Join(dir, "absent.yaml"), ExitUsage, "", "tollgate: cannot check " + filepath.Join(dir, "absent.yaml") + ": open "},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := runWith(t, nil, nil, "", "config", "check", tc.file)
			res.check(t, tc.code, tc.out, tc.err)
		})
	}
}

func TestTokenSources(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "admin.token"), "tok-from-file\n")
	empty := t.TempDir()
	writeFile(t, filepath.Join(empty, "admin.token"), "\n")
	cases := []struct {
		name     string
		env      map[string]string
		wantAuth string
		code     int
		err      string
	}{
		{"TOLLGATE_TOKEN wins", map[string]string{"TOLLGATE_TOKEN": "tok-env", "TOLLGATE_ADMIN_TOKEN": "tok-admin-env", "TOLLGATE_DATA_DIR": dir}, "Bearer tok-env", ExitOK, ""},
		{"TOLLGATE_ADMIN_TOKEN next", map[string]string{"TOLLGATE_TOKEN": "", "TOLLGATE_ADMIN_TOKEN": "tok-admin-env", "TOLLGATE_DATA_DIR": dir}, "Bearer tok-admin-env", ExitOK, ""},
		{"file in TOLLGATE_DATA_DIR", map[string]string{"TOLLGATE_TOKEN": "", "TOLLGATE_DATA_DIR": dir}, "Bearer tok-from-file", ExitOK, ""},
		{"no token anywhere", map[string]string{"TOLLGATE_TOKEN": "", "TOLLGATE_DATA_DIR": t.TempDir()}, "", ExitUsage, "no control API token: set TOLLGATE_TOKEN"},
		{"empty token file", map[string]string{"TOLLGATE_TOKEN": "", "TOLLGATE_DATA_DIR": empty}, "", ExitUsage, "is empty; set TOLLGATE_TOKEN instead"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			api := newFakeAPI(t, map[string]canned{"GET /v1/tenants": ok(`{"items":[],"next_cursor":""}`)})
			res := runWith(t, api, tc.env, "", "tenant", "list")
			res.check(t, tc.code, "", tc.err)
			reqs := api.requests()
			if tc.wantAuth == "" {
				if len(reqs) != 0 {
					t.Errorf("sent %d requests without a token", len(reqs))
				}
				return
			}
			if len(reqs) != 1 || reqs[0].Auth != tc.wantAuth {
				t.Errorf("requests %+v, want one with Authorization %q", reqs, tc.wantAuth)
			}
			if strings.Contains(res.stdout+res.stderr, strings.TrimPrefix(tc.wantAuth, "Bearer ")) {
				t.Error("the token was printed")
			}
		})
	}
}

// Without TOLLGATE_DATA_DIR the token file is ./tollgate-data/admin.token.
func TestTokenDefaultDataDir(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "tollgate-data", "admin.token"), "tok-cwd")
	t.Chdir(dir)
	api := newFakeAPI(t, map[string]canned{"GET /v1/tenants": ok(`{"items":[],"next_cursor":""}`)})
	res := runWith(t, api, map[string]string{"TOLLGATE_TOKEN": ""}, "", "tenant", "list")
	res.check(t, ExitOK, "ID", "")
	if reqs := api.requests(); len(reqs) != 1 || reqs[0].Auth != "Bearer tok-cwd" {
		t.Errorf("requests %+v, want Authorization from ./tollgate-data/admin.token", reqs)
	}
}

func TestControlAPIFailures(t *testing.T) {
	// A loopback port nothing listens on any more.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()

	cases := []struct {
		name   string
		env    map[string]string
		routes map[string]canned
		code   int
		err    string
	}{
		{"unreachable", map[string]string{"TOLLGATE_URL": closed}, nil, ExitFailure, "cannot reach the control API at " + closed},
		{"bad url", map[string]string{"TOLLGATE_URL": "127.0.0.1:9090"}, nil, ExitUsage, `TOLLGATE_URL "127.0.0.1:9090" is not an http:// or https:// URL`},
		{"unauthorized", nil, map[string]canned{"GET /v1/tenants/acme": problem(http.StatusUnauthorized, "invalid token")}, ExitFailure, "rejected the token (invalid token); set TOLLGATE_TOKEN"},
		{"server error", nil, map[string]canned{"GET /v1/tenants/acme": problem(http.StatusInternalServerError, "store unavailable")}, ExitFailure, "failed with 500 Internal Server Error (store unavailable); check the server's log"},
		{"non-problem error body", nil, map[string]canned{"GET /v1/tenants/acme": {http.StatusBadGateway, "text/plain", "upstream down"}}, ExitFailure, "502 Bad Gateway (upstream down)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			api := newFakeAPI(t, tc.routes)
			res := runWith(t, api, tc.env, "", "tenant", "get", "acme")
			res.check(t, tc.code, "", tc.err)
			if lines := strings.Count(res.stderr, "\n"); lines != 1 {
				t.Errorf("stderr has %d lines, want one sentence: %q", lines, res.stderr)
			}
		})
	}
}

// Run is the exported entry point; it must honour its arguments alone.
func TestRunEntryPoint(t *testing.T) {
	api := newFakeAPI(t, map[string]canned{"GET /v1/tenants/acme": ok(tenantJSON)})
	env := map[string]string{"TOLLGATE_URL": api.srv.URL, "TOLLGATE_TOKEN": "tok-admin"}
	var out, errb bytes.Buffer
	code := Run(context.Background(), []string{"tenant", "get", "acme", "--json"}, func(k string) string { return env[k] }, strings.NewReader(""), &out, &errb)
	if code != ExitOK || !strings.Contains(out.String(), `"id": "acme"`) {
		t.Fatalf("exit %d stdout %q stderr %q", code, out.String(), errb.String())
	}
	if _, err := os.Stat("tollgate-data"); err == nil {
		t.Error("Run created ./tollgate-data")
	}
}

func FuzzPortsFlag(f *testing.F) {
	for _, s := range []string{"80,443", "", "0", "65535", "65536", " 1 , 2 ", "a", "1,,2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var p portsFlag
		if err := p.Set(s); err != nil {
			return
		}
		for _, port := range p {
			if port == 0 {
				t.Fatalf("%q accepted port 0", s)
			}
		}
		var again portsFlag
		if err := again.Set(p.String()); err != nil || !slices.Equal(again, p) {
			t.Fatalf("%q: %v does not round-trip (%v, %v)", s, p, again, err)
		}
	})
}

func FuzzListFlag(f *testing.F) {
	for _, s := range []string{"a,b", "", ",", " a , ,b ", "*.acme.com"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var l listFlag
		if err := l.Set(s); err != nil {
			t.Fatal(err)
		}
		for _, e := range l {
			if e == "" || strings.Contains(e, ",") || strings.TrimSpace(e) != e {
				t.Fatalf("%q: bad element %q", s, e)
			}
		}
	})
}
