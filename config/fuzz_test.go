package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var cidrCases = []struct {
	in   string
	want string // canonical prefix, or "" for an error
}{
	{"10.0.0.0/8", "10.0.0.0/8"},
	{"0.0.0.0/0", "0.0.0.0/0"},
	{"203.0.113.7", "203.0.113.7/32"},
	{"203.0.113.7/32", "203.0.113.7/32"},
	{"2001:db8::/32", "2001:db8::/32"},
	{"2001:db8::1", "2001:db8::1/128"},
	{"::/0", "::/0"},
	{"10.0.0.0/33", ""},
	{"10.1.2.3/8", ""},
	{"2001:db8::1/32", ""},
	{"010.0.0.0/8", ""},
	{"10.0.0.0/08", ""},
	{"10.0.0/24", ""},
	{"10.0.0.0/", ""},
	{"/8", ""},
	{"", ""},
	{"fe80::1%eth0", ""},
	{"fe80::%eth0/64", ""},
	{"::ffff:10.0.0.1", ""},
	{"::ffff:10.0.0.0/104", ""},
	{"10.0.0.0/8 ", ""},
	{"example.com", ""},
}

func TestParseCIDR(t *testing.T) {
	for _, tc := range cidrCases {
		t.Run(tc.in, func(t *testing.T) {
			p, err := ParseCIDR(tc.in)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("accepted as %s", p)
				}
				if !strings.Contains(err.Error(), "invalid CIDR") {
					t.Errorf("error %q does not say invalid CIDR", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseCIDR: %v", err)
			}
			if p.String() != tc.want {
				t.Errorf("got %s, want %s", p, tc.want)
			}
		})
	}
}

func FuzzParseCIDR(f *testing.F) {
	for _, tc := range cidrCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseCIDR(s)
		if err != nil {
			return
		}
		// Whatever is accepted is canonical and round-trips.
		if !p.IsValid() || p.Masked() != p || p.Addr().Is4In6() || p.Addr().Zone() != "" {
			t.Fatalf("accepted non-canonical %q as %v", s, p)
		}
		again, err := ParseCIDR(p.String())
		if err != nil || again != p {
			t.Fatalf("%q: %v does not round-trip: %v, %v", s, p, again, err)
		}
		if _, err := netip.ParsePrefix(p.String()); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
	})
}

// FuzzParse: Parse never panics, always returns exactly one of config and
// error, and whatever it accepts validates again.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	files = append(files, "../deploy/tollgate.example.yaml", "../deploy/tollgate.replicas.yaml")
	for _, name := range files {
		if data, err := os.ReadFile(name); err == nil {
			f.Add(data)
		}
	}
	for _, s := range []string{"", "{}", "proxy: {listen: \":1\"}", "tenants: [{id: a}, {id: a}]", "a: &x [*x]", "- - - -", "defaults: {policy: {allow_cidrs: [10.0.0.0/8]}}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "fuzz.yaml")
		if (c == nil) == (err == nil) {
			t.Fatalf("Parse returned config %v and error %v", c != nil, err)
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.yaml") {
				t.Fatalf("error does not name the file: %q", err)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("accepted config fails Validate: %v", err)
		}
	})
}

func BenchmarkParseFull(b *testing.B) {
	data, err := os.ReadFile("testdata/full.yaml")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(data, "full.yaml"); err != nil {
			b.Fatal(err)
		}
	}
}
