package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/config"
)

func runTenant(ctx context.Context, r *runner, args []string) error {
	return group(ctx, r, "tenant", args, map[string]func(context.Context, *runner, []string) error{
		"create": tenantCreate,
		"list":   tenantList,
		"get":    tenantGet,
		"update": tenantUpdate,
		"delete": tenantDelete,
	})
}

// tenantFlags are the settable tenant fields; only the flags given end up in
// the request, so everything else keeps the server's value or default.
type tenantFlags struct {
	name, status, mode, signingScope           string
	sign, allowPlainHTTP, upgradeHTTP          bool
	allowedHosts, deniedHosts, allowCIDRs      listFlag
	allowedPorts                               portsFlag
	maxBody, burst, maxConcurrent, bytesPerSec int64
	rps, perKeyRPS, perHostRPS                 float64
}

func (tf *tenantFlags) register(fs *flagSet) {
	fs.StringVar(&tf.name, "name", "", "display name")
	fs.StringVar(&tf.status, "status", "", "active | suspended")
	fs.StringVar(&tf.mode, "mode", "", "tunnel | intercept")
	fs.StringVar(&tf.signingScope, "signing-scope", "", "host | tenant")
	fs.BoolVar(&tf.sign, "sign", false, "sign requests the proxy can see (--sign=false to turn off)")
	fs.Var(&tf.allowedHosts, "allowed-hosts", "comma-separated host globs (*.acme.com); \"\" = any public host")
	fs.Var(&tf.deniedHosts, "denied-hosts", "comma-separated host globs")
	fs.Var(&tf.allowCIDRs, "allow-cidrs", "comma-separated private CIDRs this tenant may reach (admin only)")
	fs.Var(&tf.allowedPorts, "allowed-ports", "comma-separated destination ports (default 80,443)")
	fs.BoolVar(&tf.allowPlainHTTP, "allow-plain-http", false, "send http:// requests as plain HTTP")
	fs.BoolVar(&tf.upgradeHTTP, "upgrade-http", false, "send http:// requests over TLS (--upgrade-http=false to turn off)")
	fs.Int64Var(&tf.maxBody, "max-body-bytes", 0, "largest request body the proxy signs")
	fs.Float64Var(&tf.rps, "rps", 0, "requests per second (0 = unlimited)")
	fs.Int64Var(&tf.burst, "burst", 0, "requests allowed back to back before --rps applies (0: the rate rounded up)")
	fs.Int64Var(&tf.maxConcurrent, "max-concurrent", 0, "open tunnels + in-flight requests (0 = unlimited)")
	fs.Int64Var(&tf.bytesPerSec, "bytes-per-second", 0, "request + response bytes per second (0 = unlimited)")
	fs.Float64Var(&tf.perKeyRPS, "per-key-rps", 0, "requests per second per API key (0 = unlimited)")
	fs.Float64Var(&tf.perHostRPS, "per-host-rps", 0, "requests per second per destination host (0 = unlimited)")
}

// patch builds the JSON merge patch (RFC 7396) of the flags given.
func (tf *tenantFlags) patch(fs *flagSet) (map[string]any, error) {
	body := map[string]any{}
	policy := map[string]any{}
	quotas := map[string]any{}
	enum := func(flagName, key, v string, allowed ...string) error {
		if !fs.set(flagName) {
			return nil
		}
		for _, a := range allowed {
			if v == a {
				body[key] = v
				return nil
			}
		}
		return usagef("invalid --%s %q: use %s", flagName, v, strings.Join(allowed, " or "))
	}
	if fs.set("name") {
		body["name"] = tf.name
	}
	if err := enum("status", "status", tf.status, string(tollgate.TenantActive), string(tollgate.TenantSuspended)); err != nil {
		return nil, err
	}
	if err := enum("mode", "mode", tf.mode, string(tollgate.ModeTunnel), string(tollgate.ModeIntercept)); err != nil {
		return nil, err
	}
	if err := enum("signing-scope", "signing_scope", tf.signingScope, string(tollgate.SigningScopeHost), string(tollgate.SigningScopeTenant)); err != nil {
		return nil, err
	}
	if fs.set("sign") {
		body["sign"] = tf.sign
	}
	for _, l := range []struct {
		flag, key string
		v         listFlag
	}{{"allowed-hosts", "allowed_hosts", tf.allowedHosts}, {"denied-hosts", "denied_hosts", tf.deniedHosts}} {
		if fs.set(l.flag) {
			policy[l.key] = []string(l.v)
		}
	}
	if fs.set("allow-cidrs") {
		for _, c := range tf.allowCIDRs {
			if _, err := config.ParseCIDR(c); err != nil {
				return nil, usagef("--allow-cidrs: %v; use canonical CIDRs such as 10.20.0.0/16", err)
			}
		}
		policy["allow_cidrs"] = []string(tf.allowCIDRs)
	}
	if fs.set("allowed-ports") {
		policy["allowed_ports"] = []uint16(tf.allowedPorts)
	}
	if fs.set("allow-plain-http") {
		policy["allow_plain_http"] = tf.allowPlainHTTP
	}
	if fs.set("upgrade-http") {
		policy["upgrade_http"] = tf.upgradeHTTP
	}
	nonNeg := func(flagName string, dst map[string]any, key string, v float64) error {
		if !fs.set(flagName) {
			return nil
		}
		if v < 0 {
			return usagef("--%s must not be negative (0 means unlimited)", flagName)
		}
		if v == float64(int64(v)) {
			dst[key] = int64(v)
		} else {
			dst[key] = v
		}
		return nil
	}
	for _, q := range []struct {
		flag string
		dst  map[string]any
		key  string
		v    float64
	}{
		{"max-body-bytes", policy, "max_body_bytes", float64(tf.maxBody)},
		{"rps", quotas, "requests_per_second", tf.rps},
		{"burst", quotas, "burst", float64(tf.burst)},
		{"max-concurrent", quotas, "max_concurrent", float64(tf.maxConcurrent)},
		{"bytes-per-second", quotas, "bytes_per_second", float64(tf.bytesPerSec)},
		{"per-key-rps", quotas, "per_key_requests_per_second", tf.perKeyRPS},
		{"per-host-rps", quotas, "per_host_requests_per_second", tf.perHostRPS},
	} {
		if err := nonNeg(q.flag, q.dst, q.key, q.v); err != nil {
			return nil, err
		}
	}
	if len(policy) > 0 {
		body["policy"] = policy
	}
	if len(quotas) > 0 {
		body["quotas"] = quotas
	}
	return body, nil
}

func tenantCreate(ctx context.Context, r *runner, args []string) error {
	fs := r.flags("tenant create", "ID", "Creates a tenant; settings not given take the server's defaults.")
	var tf tenantFlags
	tf.register(fs)
	pos, err := fs.parse(args, 1)
	if err != nil {
		return err
	}
	id := pos[0]
	if !tollgate.ValidTenantID(id) {
		return usagef("invalid tenant id %q: use lower-case letters, digits and dashes, starting with a letter or digit, at most 63 characters", id)
	}
	body, err := tf.patch(fs)
	if err != nil {
		return err
	}
	body["id"] = id
	raw, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("encode tenant: %w", err)
	}
	c, base, err := r.client()
	if err != nil {
		return err
	}
	t, err := c.CreateTenantJSON(ctx, raw)
	if err != nil {
		return apiError(base, err)
	}
	return r.showTenant(fs, t)
}

func tenantUpdate(ctx context.Context, r *runner, args []string) error {
	fs := r.flags("tenant update", "ID", "Changes only the settings given (a JSON merge patch).")
	var tf tenantFlags
	tf.register(fs)
	pos, err := fs.parse(args, 1)
	if err != nil {
		return err
	}
	body, err := tf.patch(fs)
	if err != nil {
		return err
	}
	if len(body) == 0 {
		return usagef("tenant update: nothing to change; give at least one setting such as --status suspended")
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("encode patch: %w", err)
	}
	c, base, err := r.client()
	if err != nil {
		return err
	}
	t, err := c.PatchTenant(ctx, pos[0], raw)
	if err != nil {
		return apiError(base, err)
	}
	return r.showTenant(fs, t)
}

func tenantGet(ctx context.Context, r *runner, args []string) error {
	fs := r.flags("tenant get", "ID", "Shows one tenant.")
	pos, err := fs.parse(args, 1)
	if err != nil {
		return err
	}
	c, base, err := r.client()
	if err != nil {
		return err
	}
	t, err := c.GetTenant(ctx, pos[0])
	if err != nil {
		return apiError(base, err)
	}
	return r.showTenant(fs, t)
}

func tenantList(ctx context.Context, r *runner, args []string) error {
	fs := r.flags("tenant list", "", "Lists tenants, one page at a time.")
	limit := fs.Int("limit", 0, "page size (0 = server default)")
	cursor := fs.String("cursor", "", "cursor of the page to show, from a previous list")
	if _, err := fs.parse(args, 0); err != nil {
		return err
	}
	c, base, err := r.client()
	if err != nil {
		return err
	}
	page, err := c.ListTenants(ctx, *limit, *cursor)
	if err != nil {
		return apiError(base, err)
	}
	if fs.json {
		return r.printJSON(page)
	}
	t := newTable(r.stdout, "ID", "NAME", "STATUS", "MODE", "SIGN", "RPS", "CREATED")
	for _, tn := range page.Items {
		t.row(tn.ID, tn.Name, string(tn.Status), string(tn.Mode), strconv.FormatBool(tn.Sign),
			rate(tn.Quotas.RequestsPerSecond), fmtTime(tn.CreatedAt))
	}
	if err := t.flush(); err != nil {
		return err
	}
	r.moreHint("tenant list", page.NextCursor)
	return nil
}

func tenantDelete(ctx context.Context, r *runner, args []string) error {
	fs := r.flags("tenant delete", "ID", "Deletes a tenant and revokes its keys; its audit trail stays.")
	pos, err := fs.parse(args, 1)
	if err != nil {
		return err
	}
	c, base, err := r.client()
	if err != nil {
		return err
	}
	if err := c.DeleteTenant(ctx, pos[0]); err != nil {
		return apiError(base, err)
	}
	if fs.json {
		return r.printJSON(map[string]any{"id": pos[0], "deleted": true})
	}
	fmt.Fprintf(r.stdout, "deleted tenant %s; its keys are revoked and its audit trail stays\n", pos[0])
	return nil
}

func (r *runner) showTenant(fs *flagSet, t tollgate.Tenant) error {
	if fs.json {
		return r.printJSON(t)
	}
	p, q := t.Policy, t.Quotas
	return fields(r.stdout,
		"id", t.ID,
		"name", t.Name,
		"status", string(t.Status),
		"mode", string(t.Mode),
		"sign", strconv.FormatBool(t.Sign),
		"signing_scope", string(t.SigningScope),
		"allowed_hosts", joinOr(p.AllowedHosts, "any public host"),
		"denied_hosts", joinOr(p.DeniedHosts, "none"),
		"allow_cidrs", joinOr(prefixList(p.AllowCIDRs), "none"),
		"allowed_ports", joinOr(portStrings(p.AllowedPorts), "none"),
		"allow_plain_http", strconv.FormatBool(p.AllowPlainHTTP),
		"upgrade_http", strconv.FormatBool(p.UpgradeHTTP),
		"max_body_bytes", strconv.FormatInt(p.MaxBodyBytes, 10),
		"requests_per_second", rate(q.RequestsPerSecond),
		"burst", strconv.Itoa(q.Burst),
		"max_concurrent", unlimited(int64(q.MaxConcurrent)),
		"bytes_per_second", unlimited(q.BytesPerSecond),
		"per_key_requests_per_second", rate(q.PerKeyRequestsPerSecond),
		"per_host_requests_per_second", rate(q.PerHostRequestsPerSecond),
		"declarative", strconv.FormatBool(t.Declarative),
		"created_at", fmtTime(t.CreatedAt),
		"updated_at", fmtTime(t.UpdatedAt),
	)
}

func joinOr(s []string, none string) string {
	if len(s) == 0 {
		return none
	}
	return strings.Join(s, ", ")
}

func portStrings(ports []uint16) []string {
	out := make([]string, len(ports))
	for i, p := range ports {
		out[i] = strconv.Itoa(int(p))
	}
	return out
}

func rate(f float64) string {
	if f == 0 {
		return "unlimited"
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

func unlimited(n int64) string {
	if n == 0 {
		return "unlimited"
	}
	return strconv.FormatInt(n, 10)
}
