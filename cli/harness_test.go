package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// fixedNow is the clock of every test.
var fixedNow = time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)

// recorded is one request the fake control API received.
type recorded struct {
	Method, Path, Query, Body, Auth, ContentType string
}

type canned struct {
	status int
	ctype  string
	body   string
}

func ok(body string) canned      { return canned{200, "application/json", body} }
func created(body string) canned { return canned{201, "application/json", body} }
func noContent() canned          { return canned{204, "", ""} }
func problem(status int, detail string) canned {
	b, _ := json.Marshal(map[string]any{"type": "about:blank", "title": http.StatusText(status), "status": status, "detail": detail})
	return canned{status, "application/problem+json", string(b)}
}

// fakeAPI records every request and answers from routes keyed "METHOD /path".
type fakeAPI struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	reqs   []recorded
	routes map[string]canned
}

func newFakeAPI(t *testing.T, routes map[string]canned) *fakeAPI {
	t.Helper()
	f := &fakeAPI{t: t, routes: routes}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		f.mu.Lock()
		f.reqs = append(f.reqs, recorded{req.Method, req.URL.Path, req.URL.RawQuery, string(body), req.Header.Get("Authorization"), req.Header.Get("Content-Type")})
		f.mu.Unlock()
		c, found := f.routes[req.Method+" "+req.URL.Path]
		if !found {
			c = problem(404, "no such route in the test")
		}
		if c.ctype != "" {
			w.Header().Set("Content-Type", c.ctype)
		}
		w.WriteHeader(c.status)
		_, _ = io.WriteString(w, c.body)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAPI) requests() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.reqs...)
}

type result struct {
	code           int
	stdout, stderr string
}

// runWith runs the CLI with env (TOLLGATE_URL pointing at api unless set)
// and the fixed clock.
func runWith(t *testing.T, api *fakeAPI, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	e := map[string]string{"TOLLGATE_TOKEN": "tok-admin"}
	if api != nil {
		e["TOLLGATE_URL"] = api.srv.URL
	}
	for k, v := range env {
		e[k] = v
	}
	var out, errb bytes.Buffer
	r := &runner{
		env:    func(k string) string { return e[k] },
		stdin:  strings.NewReader(stdin),
		stdout: &out,
		stderr: &errb,
		now:    func() time.Time { return fixedNow },
	}
	code := r.run(context.Background(), args)
	return result{code, out.String(), errb.String()}
}

// wantReq is the request a command must send; Body is compared as JSON.
type wantReq struct {
	Method, Path, Query, Body string
}

func assertRequests(t *testing.T, got []recorded, want []wantReq) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d requests %+v, want %d %+v", len(got), got, len(want), want)
	}
	for i, w := range want {
		g := got[i]
		if g.Method != w.Method || g.Path != w.Path || g.Query != w.Query {
			t.Errorf("request %d = %s %s?%s, want %s %s?%s", i, g.Method, g.Path, g.Query, w.Method, w.Path, w.Query)
		}
		if g.Auth != "Bearer tok-admin" {
			t.Errorf("request %d Authorization = %q", i, g.Auth)
		}
		if !jsonEqual(g.Body, w.Body) {
			t.Errorf("request %d body = %s, want %s", i, g.Body, w.Body)
		}
	}
}

func jsonEqual(a, b string) bool {
	if a == "" || b == "" {
		return a == b
	}
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// check asserts the exit code and that stdout and stderr contain the given
// fragments; an exact stdout is compared when wantOut starts with "=".
func (res result) check(t *testing.T, code int, wantOut, wantErr string) {
	t.Helper()
	if res.code != code {
		t.Errorf("exit code %d, want %d\nstdout: %s\nstderr: %s", res.code, code, res.stdout, res.stderr)
	}
	if exact, ok := strings.CutPrefix(wantOut, "="); ok {
		if res.stdout != exact {
			t.Errorf("stdout:\n%s\nwant:\n%s", res.stdout, exact)
		}
	} else if !strings.Contains(res.stdout, wantOut) {
		t.Errorf("stdout %q does not contain %q", res.stdout, wantOut)
	}
	if !strings.Contains(res.stderr, wantErr) {
		t.Errorf("stderr %q does not contain %q", res.stderr, wantErr)
	}
	if wantErr == "" && code == ExitOK && strings.HasPrefix(res.stderr, "tollgate:") {
		t.Errorf("unexpected error on stderr: %s", res.stderr)
	}
}
