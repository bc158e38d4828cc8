package audit_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/audit"
)

// oracleCanonical canonicalises metadata the slow, obvious way, through
// encoding/json's token reader, as the reference for the hand-written
// parser. Strings are re-encoded through Canonical's own rules by
// round-tripping them as an event field.
func oracleCanonical(raw []byte) ([]byte, error) {
	trimmed := bytes.Trim(raw, " \t\r\n")
	if len(trimmed) == 0 || string(trimmed) == "null" {
		return []byte("{}"), nil
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	out, err := oracleValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("data after the value")
	}
	return out, nil
}

func oracleString(s string) []byte {
	// Canonical writes Target with the package's string rules.
	c := string(audit.Canonical(eventWithTarget(s)))
	start := strings.Index(c, `,"target":`) + len(`,"target":`)
	end := strings.Index(c, `,"tenant":`)
	return []byte(c[start:end])
}

func oracleValue(dec *json.Decoder, depth int) ([]byte, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch v := tok.(type) {
	case json.Delim:
		if depth >= 64 {
			return nil, fmt.Errorf("too deep")
		}
		if v == '[' {
			var parts [][]byte
			for dec.More() {
				p, err := oracleValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				parts = append(parts, p)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return append(append([]byte("["), bytes.Join(parts, []byte(","))...), ']'), nil
		}
		type kv struct {
			k string
			v []byte
		}
		var members []kv
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return nil, err
			}
			k, _ := tok.(string)
			val, err := oracleValue(dec, depth+1)
			if err != nil {
				return nil, err
			}
			members = append(members, kv{k, val})
		}
		if _, err := dec.Token(); err != nil {
			return nil, err
		}
		slices.SortFunc(members, func(a, b kv) int { return strings.Compare(a.k, b.k) })
		out := []byte("{")
		for i, m := range members {
			if i > 0 {
				if members[i-1].k == m.k {
					return nil, fmt.Errorf("duplicate key")
				}
				out = append(out, ',')
			}
			out = append(append(append(out, oracleString(m.k)...), ':'), m.v...)
		}
		return append(out, '}'), nil
	case string:
		return oracleString(v), nil
	case json.Number:
		return []byte(v), nil
	case bool:
		return []byte(fmt.Sprint(v)), nil
	case nil:
		return []byte("null"), nil
	}
	return nil, fmt.Errorf("unexpected token %v", tok)
}

func eventWithTarget(s string) tollgate.AuditEvent {
	e := baseEvent()
	e.Target = s
	return e
}

var oracleSeeds = []string{
	``, ` `, `null`, ` null `, `nul`, `nullx`, `{}`, `[]`, `0`, `-0`, `01`, `-`, `1.`, `1.5e`, `1e+9`, `"a"`,
	`{"a":1,"a":1}`, `{"b":{"z":1,"y":[true,false,null]},"a":"\u00e9\ud83d\ude00\ud800x\udc00"}`,
	`{"\u0000":"\t\"\\\/"}`, "{\"k\":\"\xff\xfe\"}", "\u00a0{}", `{"a":1}x`, `{"a" 1}`, `{a:1}`, `[1,]`, `[,1]`,
	`{"a":1,}`, `"\u12"`, `"\x"`, "\"\x01\"", `{"é":1,"e":2,"E":3}`, `[[[[]]]]`, `tru`, `true`, `fals`, ` false `,
}

func TestParserMatchesOracle(t *testing.T) {
	seeds := append([]string(nil), oracleSeeds...)
	for _, tc := range canonicalCases {
		e := baseEvent()
		tc.edit(&e)
		seeds = append(seeds, string(e.Metadata))
	}
	for _, raw := range seeds {
		t.Run(fmt.Sprintf("%q", raw), func(t *testing.T) { compareWithOracle(t, []byte(raw)) })
	}
}

func compareWithOracle(t *testing.T, raw []byte) {
	t.Helper()
	got, err := audit.CanonicalMetadata(raw)
	want, oerr := oracleCanonical(raw)
	if (err == nil) != (oerr == nil) {
		t.Fatalf("%q: parser error %v, encoding/json error %v", raw, err, oerr)
	}
	if err == nil && !bytes.Equal(got, want) {
		t.Fatalf("%q:\n parser: %s\n oracle: %s", raw, got, want)
	}
}

func FuzzCanonicalMatchesDecoder(f *testing.F) {
	for _, s := range oracleSeeds {
		f.Add(s)
	}
	for _, tc := range canonicalCases {
		e := baseEvent()
		tc.edit(&e)
		f.Add(string(e.Metadata))
	}
	f.Fuzz(func(t *testing.T, raw string) { compareWithOracle(t, []byte(raw)) })
}
