package config

import (
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// decoder walks yaml.Node trees instead of using yaml.v3's reflection so that
// every unknown key, wrong type and bad value is reported with its line and
// dotted key, and all of them at once rather than the first.
type decoder struct {
	file  string
	errs  Errors
	lines map[string]int
}

func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.file, Line: n.Line, Key: path, Msg: fmt.Sprintf(format, args...)})
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	prefixType   = reflect.TypeFor[netip.Prefix]()
	levelType    = reflect.TypeFor[slog.Level]()
)

func valueOf(ptr any) reflect.Value { return reflect.ValueOf(ptr).Elem() }

// isNull reports an explicit or implied null ("key:" with no value). Null
// keeps the default, so "proxy:" alone is the same as leaving proxy out.
func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str":
			return fmt.Sprintf("string %q", n.Value)
		case "!!bool":
			return "boolean " + n.Value
		case "!!int":
			return "integer " + n.Value
		case "!!float":
			return "number " + n.Value
		case "!!null":
			return "null"
		}
		return fmt.Sprintf("%s %q", n.ShortTag(), n.Value)
	}
	return "an empty document"
}

type structOpts struct {
	only   []string                    // if set, the only keys allowed
	custom map[string]func(*yaml.Node) // keys handed to the caller instead of decoded
}

// decodeStruct decodes a mapping onto the struct v field by field, keeping
// the current value of every field the mapping leaves out.
func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string, o structOpts) {
	if n.Kind == yaml.AliasNode {
		d.fail(n, path, "YAML aliases are not supported; write the value out")
		return
	}
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		what := path
		if what == "" {
			what = "the top level"
		}
		d.fail(n, path, "expected a mapping at %s, got %s", what, kindName(n))
		return
	}
	fields := map[string]int{}
	var names []string
	for i := range v.NumField() {
		f := v.Type().Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "" || name == "-" {
			continue
		}
		if o.only != nil && !slices.Contains(o.only, name) {
			continue
		}
		fields[name] = i
		names = append(names, name)
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		key := k.Value
		if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!merge" {
			d.fail(k, path, "keys must be plain names; merge keys and complex keys are not supported")
			continue
		}
		sub := joinKey(path, key)
		if seen[key] {
			d.fail(k, sub, "duplicate key")
			continue
		}
		seen[key] = true
		d.lines[sub] = k.Line
		if h, ok := o.custom[key]; ok {
			h(val)
			continue
		}
		idx, ok := fields[key]
		if !ok {
			d.fail(k, sub, "unknown key (valid keys here: %s)", strings.Join(names, ", "))
			continue
		}
		d.decode(val, v.Field(idx), sub)
	}
}

func joinKey(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// decode writes n onto v, which must be settable.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.AliasNode {
		d.fail(n, path, "YAML aliases are not supported; write the value out")
		return
	}
	if isNull(n) {
		return
	}
	if v.Kind() == reflect.Struct && v.Type() != prefixType {
		d.decodeStruct(n, v, path, structOpts{})
		return
	}
	if v.Kind() == reflect.Slice {
		if n.Kind != yaml.SequenceNode {
			d.fail(n, path, "expected a list, got %s", kindName(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, e := range n.Content {
			sub := fmt.Sprintf("%s[%d]", path, i)
			d.lines[sub] = e.Line
			if isNull(e) {
				d.fail(e, sub, "empty list entry")
				continue
			}
			d.decode(e, s.Index(i), sub)
		}
		v.Set(s)
		return
	}
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, "expected a single value, got %s", kindName(n))
		return
	}
	if err := setScalar(n, v); err != nil {
		d.fail(n, path, "%s", err)
	}
}

// setScalar converts one scalar. Messages say what was expected and what was
// found, since they are shown to operators as they are.
func setScalar(n *yaml.Node, v reflect.Value) error {
	tag := n.ShortTag()
	switch v.Type() {
	case durationType:
		if tag != "!!str" && tag != "!!int" {
			return fmt.Errorf("expected a duration such as 5s, got %s", kindName(n))
		}
		dur, err := time.ParseDuration(n.Value)
		if err != nil {
			return fmt.Errorf("invalid duration %q: use Go syntax such as 500ms, 5s, 10m or 168h", n.Value)
		}
		v.SetInt(int64(dur))
		return nil
	case prefixType:
		if tag != "!!str" {
			return fmt.Errorf("expected a CIDR such as 10.0.0.0/8, got %s", kindName(n))
		}
		p, err := ParseCIDR(n.Value)
		if err != nil {
			return err
		}
		v.Set(reflect.ValueOf(p))
		return nil
	case levelType:
		l, ok := levels[n.Value]
		if tag != "!!str" || !ok {
			return fmt.Errorf("invalid log level %q: use debug, info, warn or error", n.Value)
		}
		v.SetInt(int64(l))
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		switch tag {
		case "!!str", "!!int", "!!float":
			v.SetString(n.Value)
			return nil
		}
		return fmt.Errorf("expected a string, got %s", kindName(n))
	case reflect.Bool:
		if tag != "!!bool" {
			return fmt.Errorf("expected true or false, got %s", kindName(n))
		}
		v.SetBool(n.Value == "true" || n.Value == "True" || n.Value == "TRUE")
		return nil
	case reflect.Int, reflect.Int64:
		if tag != "!!int" {
			return fmt.Errorf("expected an integer, got %s", kindName(n))
		}
		i, err := strconv.ParseInt(n.Value, 0, v.Type().Bits())
		if err != nil {
			return fmt.Errorf("integer %s out of range", n.Value)
		}
		v.SetInt(i)
		return nil
	case reflect.Uint16: // only ports are uint16
		if tag != "!!int" {
			return fmt.Errorf("expected a port number, got %s", kindName(n))
		}
		i, err := strconv.ParseInt(n.Value, 0, 64)
		if err != nil || i < 1 || i > 65535 {
			return fmt.Errorf("invalid port %s: must be between 1 and 65535", n.Value)
		}
		v.SetUint(uint64(i))
		return nil
	case reflect.Float64:
		if tag != "!!int" && tag != "!!float" {
			return fmt.Errorf("expected a number, got %s", kindName(n))
		}
		f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("expected a finite number, got %s", n.Value)
		}
		v.SetFloat(f)
		return nil
	}
	return fmt.Errorf("unsupported field type %s", v.Type())
}

var levels = map[string]slog.Level{
	"debug": slog.LevelDebug,
	"info":  slog.LevelInfo,
	"warn":  slog.LevelWarn,
	"error": slog.LevelError,
}

// ParseCIDR parses one CIDR strictly: the prefix must already be masked
// ("10.0.0.1/8" is refused rather than silently widened), a bare address
// means a single host (/32 or /128), and IPv4-mapped IPv6 forms are refused
// because addresses are judged after Unmap() and would never match them.
func ParseCIDR(s string) (netip.Prefix, error) {
	var p netip.Prefix
	if strings.Contains(s, "/") {
		var err error
		p, err = netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("invalid CIDR %q", s)
		}
		if m := p.Masked(); m != p {
			return netip.Prefix{}, fmt.Errorf("invalid CIDR %q: host bits are set (did you mean %q?)", s, m.String())
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("invalid CIDR %q", s)
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if p.Addr().Is4In6() {
		return netip.Prefix{}, fmt.Errorf("invalid CIDR %q: IPv4-mapped IPv6; write the IPv4 form", s)
	}
	return p, nil
}
