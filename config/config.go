package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate"
	"gopkg.in/yaml.v3"
)

// Enum values accepted by the configuration.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"

	BackendMemory = "memory"
	BackendRedis  = "redis"

	OnErrorLocal = "local" // each replica enforces its share of the limit
	OnErrorDeny  = "deny"

	FormatJSON = "json"
	FormatText = "text"
)

// Config is a whole, validated configuration. The yaml tags name the keys
// of SPEC §2; decoding is done by this package, not by yaml.v3 reflection.
type Config struct {
	Proxy     Proxy             `yaml:"proxy"`
	Control   Control           `yaml:"control"`
	DataDir   string            `yaml:"data_dir"`
	Resolver  Resolver          `yaml:"resolver"`
	Egress    Egress            `yaml:"egress"`
	Intercept Intercept         `yaml:"intercept"`
	Store     Store             `yaml:"store"`
	Quota     Quota             `yaml:"quota"`
	Audit     Audit             `yaml:"audit"`
	Defaults  tollgate.Tenant   `yaml:"defaults"` // template for tenants and for tenant "default" when require_auth is false
	Tenants   []tollgate.Tenant `yaml:"tenants"`  // declarative tenants; each started as a copy of Defaults
	Log       Log               `yaml:"log"`

	// lines maps dotted keys to the line they came from, so Validate can
	// point at the file. Nil for a Config built in code.
	file  string
	lines map[string]int
}

// Proxy is the proxy listener.
type Proxy struct {
	Listen            string        `yaml:"listen"`
	TLSListen         string        `yaml:"tls_listen"`
	TLSCertFile       string        `yaml:"tls_cert_file"`
	TLSKeyFile        string        `yaml:"tls_key_file"`
	RequireAuth       bool          `yaml:"require_auth"`
	ConnectTimeout    time.Duration `yaml:"connect_timeout"`
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	IdleTimeout       time.Duration `yaml:"idle_timeout"`
	MaxTunnelDuration time.Duration `yaml:"max_tunnel_duration"`
}

// Control is the control API listener.
type Control struct {
	Listen         string `yaml:"listen"`
	AdminTokenFile string `yaml:"admin_token_file"` // resolved: <data_dir>/admin.token when unset
}

// Resolver configures DNS resolution of destinations.
type Resolver struct {
	Servers     []string      `yaml:"servers"` // ip:port; empty means /etc/resolv.conf
	Timeout     time.Duration `yaml:"timeout"`
	CacheSize   int           `yaml:"cache_size"`
	MinTTL      time.Duration `yaml:"min_ttl"`
	MaxTTL      time.Duration `yaml:"max_ttl"`
	NegativeTTL time.Duration `yaml:"negative_ttl"`
}

// Egress holds the operator's destination rules (SPEC §4).
type Egress struct {
	DenyCIDRs      []netip.Prefix `yaml:"deny_cidrs"`
	AllowCIDRs     []netip.Prefix `yaml:"allow_cidrs"`
	OwnDomains     []string       `yaml:"own_domains"` // lower case, no trailing dot
	UpstreamCAFile string         `yaml:"upstream_ca_file"`
}

// Intercept locates the CA that signs intercepted leaf certificates.
type Intercept struct {
	CACertFile string `yaml:"ca_cert_file"` // resolved: <data_dir>/ca.pem when unset
	CAKeyFile  string `yaml:"ca_key_file"`  // resolved: <data_dir>/ca-key.pem when unset
}

// Store selects the persistent store.
type Store struct {
	Driver string `yaml:"driver"` // sqlite | postgres
	DSN    string `yaml:"dsn"`    // resolved: <data_dir>/tollgate.db for sqlite; required for postgres
}

// Quota selects the quota backend.
type Quota struct {
	Backend                 string  `yaml:"backend"` // memory | redis
	RedisURL                string  `yaml:"redis_url"`
	GlobalRequestsPerSecond float64 `yaml:"global_requests_per_second"` // 0 = unlimited
	OnBackendError          string  `yaml:"on_backend_error"`           // local | deny
}

// Audit configures the audit trail.
type Audit struct {
	Retention     time.Duration `yaml:"retention"`
	FlushInterval time.Duration `yaml:"flush_interval"`
}

// Log configures the process logger.
type Log struct {
	Level  slog.Level `yaml:"level"`
	Format string     `yaml:"format"` // json | text
}

// defaultsKeys are the tenant fields the defaults: block may set.
var defaultsKeys = []string{"mode", "sign", "policy", "quotas"}

// base is the configuration before paths under data_dir are resolved.
func base() *Config {
	d := tollgate.DefaultTenant()
	d.ID = tollgate.DefaultTenantID
	return &Config{
		Proxy: Proxy{
			Listen:            "127.0.0.1:3128",
			RequireAuth:       true,
			ConnectTimeout:    10 * time.Second,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       90 * time.Second,
			MaxTunnelDuration: 10 * time.Minute,
		},
		Control: Control{Listen: "127.0.0.1:9090"},
		DataDir: "./tollgate-data",
		Resolver: Resolver{
			Servers:     []string{},
			Timeout:     2 * time.Second,
			CacheSize:   10000,
			MinTTL:      5 * time.Second,
			MaxTTL:      5 * time.Minute,
			NegativeTTL: 30 * time.Second,
		},
		Egress:   Egress{DenyCIDRs: []netip.Prefix{}, AllowCIDRs: []netip.Prefix{}, OwnDomains: []string{}},
		Store:    Store{Driver: DriverSQLite},
		Quota:    Quota{Backend: BackendMemory, OnBackendError: OnErrorLocal},
		Audit:    Audit{Retention: 8760 * time.Hour, FlushInterval: 200 * time.Millisecond},
		Defaults: d,
		Tenants:  []tollgate.Tenant{},
		Log:      Log{Level: slog.LevelInfo, Format: FormatJSON},
	}
}

// Default is the embedded default configuration: what `tollgate serve` runs
// without --config, and what an empty file means.
func Default() *Config {
	c := base()
	c.resolve()
	return c
}

// resolve fills in the paths that default to files under data_dir.
func (c *Config) resolve() {
	if c.Control.AdminTokenFile == "" {
		c.Control.AdminTokenFile = filepath.Join(c.DataDir, "admin.token")
	}
	if c.Intercept.CACertFile == "" {
		c.Intercept.CACertFile = filepath.Join(c.DataDir, "ca.pem")
	}
	if c.Intercept.CAKeyFile == "" {
		c.Intercept.CAKeyFile = filepath.Join(c.DataDir, "ca-key.pem")
	}
	if c.Store.DSN == "" && c.Store.Driver == DriverSQLite {
		c.Store.DSN = filepath.Join(c.DataDir, "tollgate.db")
	}
}

// Load reads and parses the file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(data, path)
}

// Parse decodes data strictly, fills in defaults and validates the result.
// filename only labels errors. The error is an *Error or, for several
// problems, Errors.
func Parse(data []byte, filename string) (*Config, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			c := Default()
			c.file = filename
			return c, nil
		}
		return nil, syntaxError(filename, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &Error{File: filename, Line: extra.Line, Msg: "more than one YAML document; a config file holds exactly one"}
	} else if !errors.Is(err, io.EOF) {
		return nil, syntaxError(filename, err)
	}

	c := base()
	d := &decoder{file: filename, lines: map[string]int{}}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	d.decodeConfig(root, c)
	c.file, c.lines = filename, d.lines
	errs := d.errs
	if (c.Intercept.CACertFile == "") != (c.Intercept.CAKeyFile == "") {
		errs = append(errs, c.errorf("intercept", "set both ca_cert_file and ca_key_file, or neither to use the generated CA in data_dir"))
	}
	c.resolve()
	// A value that failed to decode kept its default; report validation
	// problems only for keys that decoded, so one mistake gives one message.
	for _, e := range c.validate() {
		if !coveredBy(e.Key, d.errs) {
			errs = append(errs, e)
		}
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	return c, nil
}

// decodeConfig decodes the top level. defaults is decoded before tenants,
// whatever their order in the file, because every tenant starts as a copy
// of it.
func (d *decoder) decodeConfig(n *yaml.Node, c *Config) {
	var defaults, tenants *yaml.Node
	d.decodeStruct(n, valueOf(c), "", structOpts{custom: map[string]func(*yaml.Node){
		"defaults": func(v *yaml.Node) { defaults = v },
		"tenants":  func(v *yaml.Node) { tenants = v },
	}})
	if defaults != nil && !isNull(defaults) {
		d.decodeStruct(defaults, valueOf(&c.Defaults), "defaults", structOpts{only: defaultsKeys})
	}
	if tenants == nil {
		return
	}
	if isNull(tenants) {
		return
	}
	if tenants.Kind != yaml.SequenceNode {
		d.fail(tenants, "tenants", "expected a list of tenants, got %s", kindName(tenants))
		return
	}
	c.Tenants = make([]tollgate.Tenant, 0, len(tenants.Content))
	for i, tn := range tenants.Content {
		t := cloneTenant(c.Defaults)
		t.ID, t.Name = "", ""
		path := fmt.Sprintf("tenants[%d]", i)
		d.lines[path] = tn.Line
		if isNull(tn) {
			d.fail(tn, path, "empty tenant; a tenant needs at least an id")
			continue
		}
		d.decodeStruct(tn, valueOf(&t), path, structOpts{})
		t.Declarative = true
		c.Tenants = append(c.Tenants, t)
	}
}

// cloneTenant copies t without sharing slices, so tenants decoded from the
// same defaults can never alias each other's lists.
func cloneTenant(t tollgate.Tenant) tollgate.Tenant {
	t.Policy.AllowedHosts = slices.Clone(t.Policy.AllowedHosts)
	t.Policy.DeniedHosts = slices.Clone(t.Policy.DeniedHosts)
	t.Policy.AllowCIDRs = slices.Clone(t.Policy.AllowCIDRs)
	t.Policy.AllowedPorts = slices.Clone(t.Policy.AllowedPorts)
	return t
}

// errorf builds an *Error for key, with the line it came from if known.
func (c *Config) errorf(key, format string, args ...any) *Error {
	return &Error{File: c.file, Line: c.lineOf(key), Key: key, Msg: fmt.Sprintf(format, args...)}
}

// lineOf finds the line of key, or of its nearest ancestor present in the
// file (a missing key is reported where its parent is).
func (c *Config) lineOf(key string) int {
	for key != "" {
		if l, ok := c.lines[key]; ok {
			return l
		}
		i := max(strings.LastIndexByte(key, '.'), strings.LastIndexByte(key, '['))
		if i < 0 {
			return 0
		}
		key = key[:i]
	}
	return 0
}

// coveredBy reports whether key is, or is inside, a key that already failed.
func coveredBy(key string, errs Errors) bool {
	for _, e := range errs {
		if key == e.Key || strings.HasPrefix(key, e.Key+".") || strings.HasPrefix(key, e.Key+"[") {
			return true
		}
	}
	return false
}
