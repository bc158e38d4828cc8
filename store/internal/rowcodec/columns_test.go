package rowcodec

import (
	"database/sql"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate"
)

func TestNanosRoundTrip(t *testing.T) {
	loc := time.FixedZone("x", 3600)
	tests := []struct {
		name string
		in   time.Time
		want sql.NullInt64
	}{
		{"zero is null", time.Time{}, sql.NullInt64{}},
		{"epoch", time.Unix(0, 0), sql.NullInt64{Valid: true}},
		{"nanos kept", time.Date(2026, 11, 26, 1, 2, 3, 123456789, loc), sql.NullInt64{Int64: time.Date(2026, 11, 26, 0, 2, 3, 123456789, time.UTC).UnixNano(), Valid: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Nanos(tt.in)
			if got != tt.want {
				t.Fatalf("Nanos = %v, want %v", got, tt.want)
			}
			back := Time(got)
			if !back.Equal(tt.in) || back.Location() != time.UTC {
				t.Fatalf("Time(Nanos(%v)) = %v", tt.in, back)
			}
		})
	}
	if TimePtr(NanosPtr(nil)) != nil {
		t.Fatal("nil pointer did not round-trip")
	}
}

func TestJSONColumnsRoundTrip(t *testing.T) {
	p := tollgate.DefaultPolicy()
	p.AllowCIDRs = []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("fd00::/8")}
	tests := []struct {
		name   string
		in     any
		decode func(string) (any, error)
	}{
		{"policy", p, func(s string) (any, error) { return Policy(s) }},
		{"nil policy slices", tollgate.Policy{}, func(s string) (any, error) { return Policy(s) }},
		{"quotas", tollgate.Quotas{RequestsPerSecond: 1.5, Burst: 3}, func(s string) (any, error) { return Quotas(s) }},
		{"scopes", []tollgate.Scope{tollgate.ScopeProxy}, func(s string) (any, error) { return Scopes(s) }},
		{"prefixes", p.AllowCIDRs, func(s string) (any, error) { return Prefixes(s) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := JSON(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tt.decode(s)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.in) {
				t.Fatalf("round trip = %#v, want %#v", got, tt.in)
			}
		})
	}
}
