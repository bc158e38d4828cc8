package control

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/tollgate-dev/tollgate"
)

// rfc7396Cases are the examples of RFC 7396 Appendix A.
var rfc7396Cases = []struct{ target, patch, want string }{
	{`{"a":"b"}`, `{"a":"c"}`, `{"a":"c"}`},
	{`{"a":"b"}`, `{"b":"c"}`, `{"a":"b","b":"c"}`},
	{`{"a":"b"}`, `{"a":null}`, `{}`},
	{`{"a":"b","b":"c"}`, `{"a":null}`, `{"b":"c"}`},
	{`{"a":["b"]}`, `{"a":"c"}`, `{"a":"c"}`},
	{`{"a":"c"}`, `{"a":["b"]}`, `{"a":["b"]}`},
	{`{"a":{"b":"c"}}`, `{"a":{"b":"d","c":null}}`, `{"a":{"b":"d"}}`},
	{`{"a":[{"b":"c"}]}`, `{"a":[1]}`, `{"a":[1]}`},
	{`["a","b"]`, `["c","d"]`, `["c","d"]`},
	{`{"a":"b"}`, `["c"]`, `["c"]`},
	{`{"a":"foo"}`, `null`, `null`},
	{`{"a":"foo"}`, `"bar"`, `"bar"`},
	{`{"e":null}`, `{"a":1}`, `{"a":1,"e":null}`},
	{`[1,2]`, `{"a":"b","c":null}`, `{"a":"b"}`},
	{`{}`, `{"a":{"bb":{"ccc":null}}}`, `{"a":{"bb":{}}}`},
	{`{"n":12345678901234567890}`, `{"m":1}`, `{"m":1,"n":12345678901234567890}`},
}

func canonJSON(t testing.TB, s []byte) string {
	t.Helper()
	var v any
	dec := json.NewDecoder(bytes.NewReader(s))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func TestMergePatchRFC7396(t *testing.T) {
	for _, tc := range rfc7396Cases {
		t.Run(tc.target+"+"+tc.patch, func(t *testing.T) {
			got, err := mergePatch([]byte(tc.target), []byte(tc.patch))
			if err != nil {
				t.Fatal(err)
			}
			if g, w := canonJSON(t, got), canonJSON(t, []byte(tc.want)); g != w {
				t.Errorf("got %s, want %s", g, w)
			}
		})
	}
}

func FuzzMergePatch(f *testing.F) {
	for _, tc := range rfc7396Cases {
		f.Add([]byte(tc.target), []byte(tc.patch))
	}
	f.Fuzz(func(t *testing.T, target, patch []byte) {
		if !json.Valid(target) || !json.Valid(patch) {
			return
		}
		once, err := mergePatch(target, patch)
		if err != nil {
			return
		}
		// A merge patch is idempotent: applying it twice changes nothing more.
		twice, err := mergePatch(once, patch)
		if err != nil {
			t.Fatalf("re-applying: %v", err)
		}
		if canonJSON(t, once) != canonJSON(t, twice) {
			t.Fatalf("not idempotent: %s then %s", once, twice)
		}
	})
}

// FuzzTenantPatch feeds arbitrary patches through the PATCH path: it must
// never panic, and whatever it accepts must validate again unchanged.
func FuzzTenantPatch(f *testing.F) {
	for _, p := range []string{`{"name":"x"}`, `{"policy":{"allowed_ports":null}}`, `{"policy":{"allowed_hosts":["*.A.com."]}}`,
		`{"policy":{"allow_cidrs":["::ffff:10.0.0.0/104"]}}`, `{"quotas":{"burst":-1}}`, `{"id":"x"}`, `{"mode":"intercept"}`, `[]`, `null`} {
		f.Add([]byte(p))
	}
	cur := tollgate.DefaultTenant()
	cur.ID, cur.Name = "acme", "Acme"
	f.Fuzz(func(t *testing.T, patch []byte) {
		next, err := applyPatch(cur, patch)
		if err != nil {
			return
		}
		if validateTenant(&next) != nil {
			return
		}
		again := next
		if err := validateTenant(&again); err != nil {
			t.Fatalf("normalised tenant does not validate: %v", err)
		}
		a, _ := json.Marshal(next)
		b, _ := json.Marshal(again)
		if !bytes.Equal(a, b) {
			t.Fatalf("normalisation not stable: %s vs %s", a, b)
		}
	})
}

var secretHostCases = []struct{ in, want string }{
	{"hooks.example.com", "hooks.example.com"},
	{"HOOKS.example.com.", "hooks.example.com"},
	{"[2001:db8::1]", "2001:db8::1"},
	{"2001:DB8::1", "2001:db8::1"},
	{"192.0.2.1", "192.0.2.1"},
	{"a b", ""},
	{"0177.0.0.1", ""},
	{"[fe80::1%25eth0]", ""},
	{"host:80", ""},
	{"", ""},
}

func TestSecretHost(t *testing.T) {
	for _, tc := range secretHostCases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := secretHost(tc.in)
			if (err != nil) != (tc.want == "") || got != tc.want {
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func FuzzSecretHost(f *testing.F) {
	for _, tc := range secretHostCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		h, err := secretHost(in)
		if err != nil {
			return
		}
		// The normal form is a fixed point: a receiver asking again with it gets the same secret.
		if h2, err := secretHost(h); err != nil || h2 != h {
			t.Fatalf("%q → %q → %q, %v", in, h, h2, err)
		}
	})
}
