package audit_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/audit"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

var goldenTime = time.Date(2026, 3, 4, 5, 6, 7, 891234567, time.UTC)

func baseEvent() tollgate.AuditEvent {
	return tollgate.AuditEvent{
		ID:        "evt_01JNQX3Z7W8K2M4P6R8T0V2X4Z",
		Time:      goldenTime,
		Tenant:    "acme",
		Actor:     "key_01JNQX3Z7W8K2M4P6R8T0V2X4A",
		ActorType: tollgate.ActorKey,
		Action:    "proxy.connect",
		Target:    "hooks.example.com:443",
		Outcome:   tollgate.OutcomeBlocked,
		Reason:    "forbidden_address",
		ClientIP:  "127.0.0.1",
		Metadata:  json.RawMessage(`{"port":443,"vetted_ip":"93.184.215.14"}`),
		PrevHash:  "",
		Hash:      "must not appear",
		Seq:       42,
	}
}

// canonicalCases are the golden cases; FuzzCanonical is seeded from them.
var canonicalCases = []struct {
	name string
	edit func(e *tollgate.AuditEvent)
}{
	{"basic", func(e *tollgate.AuditEvent) {}},
	{"nested_metadata", func(e *tollgate.AuditEvent) {
		e.Metadata = json.RawMessage(` { "z": {"b": [3, {"y": true, "x": null}], "a": false},
			"a": [], "m": {}, "k": [[]] } `)
	}},
	{"unicode", func(e *tollgate.AuditEvent) {
		e.Target = "bücher.example:443"
		e.Reason = "quote \" backslash \\ tab \t newline \n nul \x00 del \x7f"
		e.Metadata = json.RawMessage(`{"html":"<a href=\"x\">&amp;</a>","emoji":"🙂","esc":"\u00e9\ud83d\ude00\u2028\u0001","ключ":"значение","invalid_utf8":"\ud800"}`)
		e.Actor = "bad utf8 \xff\xfe"
	}},
	{"numbers", func(e *tollgate.AuditEvent) {
		e.Metadata = json.RawMessage(`{"int":443,"neg":-0,"frac":1.50,"exp":1e2,"EXP":1E+2,"big":123456789012345678901234567890,"small":0.000001,"list":[0,-1.0e-7]}`)
	}},
	{"empty_metadata_nil", func(e *tollgate.AuditEvent) { e.Metadata = nil }},
	{"empty_metadata_null", func(e *tollgate.AuditEvent) { e.Metadata = json.RawMessage(" null ") }},
	{"empty_metadata_object", func(e *tollgate.AuditEvent) { e.Metadata = json.RawMessage("{}") }},
	{"non_object_metadata", func(e *tollgate.AuditEvent) { e.Metadata = json.RawMessage(`[1, "two", {"b":2,"a":1}]`) }},
	{"time_zone_and_precision", func(e *tollgate.AuditEvent) {
		e.Time = time.Date(2026, 3, 4, 7, 6, 7, 999999999, time.FixedZone("CEST", 2*3600))
	}},
	{"zero_values", func(e *tollgate.AuditEvent) { *e = tollgate.AuditEvent{} }},
	{"platform_chain_with_prev", func(e *tollgate.AuditEvent) {
		e.Tenant = tollgate.PlatformChain
		e.ActorType = tollgate.ActorAdmin
		e.Action = "tenant.create"
		e.Outcome = tollgate.OutcomeSuccess
		e.Reason = ""
		e.PrevHash = strings.Repeat("ab", 32)
	}},
}

func goldenPath(name string) string { return filepath.Join("testdata", "canonical_"+name+".golden") }

func TestCanonicalGolden(t *testing.T) {
	for _, tc := range canonicalCases {
		t.Run(tc.name, func(t *testing.T) {
			e := baseEvent()
			tc.edit(&e)
			got := audit.Canonical(e)
			if *update {
				if err := os.WriteFile(goldenPath(tc.name), got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(goldenPath(tc.name))
			if err != nil {
				t.Fatalf("read golden (run with -update to create): %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("canonical JSON changed: this breaks every stored chain\n got: %s\nwant: %s", got, want)
			}
			if !json.Valid(got) {
				t.Errorf("canonical output is not valid JSON: %s", got)
			}
			if bytes.Contains(got, []byte(`"hash"`)) || bytes.Contains(got, []byte("must not appear")) {
				t.Errorf("canonical output contains the hash: %s", got)
			}
			assertStable(t, got)
		})
	}
}

// assertStable checks that parsing canonical output back into an event and
// canonicalising it again gives the same bytes.
func assertStable(t *testing.T, canonical []byte) {
	t.Helper()
	var back tollgate.AuditEvent
	if err := json.Unmarshal(canonical, &back); err != nil {
		t.Fatalf("parse canonical output %q: %v", canonical, err)
	}
	if again := audit.Canonical(back); !bytes.Equal(again, canonical) {
		t.Fatalf("canonical form not stable\nfirst:  %s\nsecond: %s", canonical, again)
	}
}

func TestCanonicalEquivalences(t *testing.T) {
	tests := []struct {
		name string
		a, b json.RawMessage
		same bool
	}{
		{"key order", json.RawMessage(`{"a":1,"b":2}`), json.RawMessage(`{"b":2,"a":1}`), true},
		{"whitespace", json.RawMessage("{\n\t\"a\" : [ 1 , 2 ] }"), json.RawMessage(`{"a":[1,2]}`), true},
		{"nil and null", nil, json.RawMessage("null"), true},
		{"nil and empty object", nil, json.RawMessage("{}"), true},
		{"escaped and literal unicode", json.RawMessage(`{"a":"\u00e9"}`), json.RawMessage(`{"a":"é"}`), true},
		{"html escapes", json.RawMessage(`{"a":"\u003c"}`), json.RawMessage(`{"a":"<"}`), true},
		{"number literal kept", json.RawMessage(`{"a":1.0}`), json.RawMessage(`{"a":1}`), false},
		{"exponent kept", json.RawMessage(`{"a":1e2}`), json.RawMessage(`{"a":100}`), false},
		{"array order kept", json.RawMessage(`[1,2]`), json.RawMessage(`[2,1]`), false},
		{"empty array is not empty object", json.RawMessage(`[]`), json.RawMessage(`{}`), false},
		{"string is not number", json.RawMessage(`{"a":"1"}`), json.RawMessage(`{"a":1}`), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ea, eb := baseEvent(), baseEvent()
			ea.Metadata, eb.Metadata = tc.a, tc.b
			ca, cb := audit.Canonical(ea), audit.Canonical(eb)
			if bytes.Equal(ca, cb) != tc.same {
				t.Errorf("same=%v, want %v\n a: %s\n b: %s", bytes.Equal(ca, cb), tc.same, ca, cb)
			}
		})
	}
}

func TestCanonicalMetadataInvalid(t *testing.T) {
	tests := []struct {
		name string
		raw  string
	}{
		{"truncated", `{"a":`},
		{"trailing data", `{} {}`},
		{"duplicate key", `{"a":1,"a":2}`},
		{"duplicate nested key", `{"x":{"a":1,"b":0,"a":1}}`},
		{"bare word", `abc`},
		{"leading zero", `{"a":01}`},
		{"single quotes", `{'a':1}`},
		{"too deep", strings.Repeat("[", 65) + strings.Repeat("]", 65)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := audit.CanonicalMetadata(json.RawMessage(tc.raw)); !errors.Is(err, audit.ErrInvalidMetadata) {
				t.Fatalf("CanonicalMetadata(%q) error = %v, want ErrInvalidMetadata", tc.raw, err)
			}
			e := baseEvent()
			e.Metadata = json.RawMessage(tc.raw)
			got := audit.Canonical(e)
			if !json.Valid(got) {
				t.Errorf("Canonical with invalid metadata is not valid JSON: %s", got)
			}
			assertStable(t, got)
		})
	}
	t.Run("64 levels is fine", func(t *testing.T) {
		raw := strings.Repeat("[", 64) + strings.Repeat("]", 64)
		if _, err := audit.CanonicalMetadata(json.RawMessage(raw)); err != nil {
			t.Fatal(err)
		}
	})
}

func FuzzCanonical(f *testing.F) {
	for _, tc := range canonicalCases {
		e := baseEvent()
		tc.edit(&e)
		f.Add(string(e.Metadata), e.Target, e.Reason, e.Time.UnixNano())
	}
	f.Add(`{"a":1,"a":2}`, "", "", int64(0))
	f.Add(`"just a string"`, "x", "y", int64(-1))
	f.Fuzz(func(t *testing.T, meta, target, reason string, nanos int64) {
		e := baseEvent()
		e.Metadata = json.RawMessage(meta)
		e.Target = target
		e.Reason = reason
		e.Time = time.Unix(0, nanos)
		got := audit.Canonical(e)
		if !json.Valid(got) {
			t.Fatalf("not valid JSON: %q", got)
		}
		assertStable(t, got)
		var back tollgate.AuditEvent
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatal(err)
		}
		// Escaping is lossless for valid UTF-8 (invalid bytes become U+FFFD).
		if utf8.ValidString(target) && back.Target != target || utf8.ValidString(reason) && back.Reason != reason {
			t.Fatalf("strings changed: %q %q -> %q %q", target, reason, back.Target, back.Reason)
		}
		if !back.Time.Equal(audit.NormalizeTime(e.Time)) {
			t.Fatalf("time %v -> %v", e.Time, back.Time)
		}

		canon, err := audit.CanonicalMetadata(json.RawMessage(meta))
		if err != nil {
			return
		}
		if !json.Valid(canon) {
			t.Fatalf("canonical metadata not valid JSON: %q", canon)
		}
		again, err := audit.CanonicalMetadata(canon)
		if err != nil || !bytes.Equal(again, canon) {
			t.Fatalf("canonical metadata not idempotent: %q -> %q (%v)", canon, again, err)
		}
		if trimmed := strings.TrimSpace(meta); trimmed != "" && trimmed != "null" && !json.Valid([]byte(meta)) {
			t.Fatalf("accepted invalid JSON %q", meta)
		}
	})
}
