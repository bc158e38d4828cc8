package cli

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/config"
	"github.com/tollgate-dev/tollgate/control/client"
)

// Grace periods used when --grace is not given: a day for signing keys
// (SPEC §5), a week for API keys so every worker can pick up the new key.
const (
	DefaultKeyGrace     = 168 * time.Hour
	DefaultSigningGrace = 24 * time.Hour
)

var validScopes = []tollgate.Scope{
	tollgate.ScopeProxy, tollgate.ScopeProxyAnyTenant,
	tollgate.ScopeControlRead, tollgate.ScopeControlWrite, tollgate.ScopeControlAdmin,
}

func runKey(ctx context.Context, r *runner, args []string) error {
	return group(ctx, r, "key", args, map[string]func(context.Context, *runner, []string) error{
		"create": keyCreate,
		"list":   keyList,
		"revoke": keyRevoke,
		"rotate": keyRotate,
	})
}

// owner reads --tenant / --platform: exactly one of them selects whose keys.
type owner struct {
	tenant   string
	platform bool
}

func (o *owner) register(fs *flagSet, platformToo bool) {
	fs.StringVar(&o.tenant, "tenant", "", "tenant id")
	if platformToo {
		fs.BoolVar(&o.platform, "platform", false, "platform keys (no tenant; admin only)")
	}
}

func (o *owner) check(fs *flagSet) error {
	cmd := strings.TrimPrefix(fs.Name(), "tollgate ")
	switch {
	case o.platform && o.tenant != "":
		return usagef("%s: give --tenant or --platform, not both", cmd)
	case !o.platform && o.tenant == "":
		if fs.Lookup("platform") != nil {
			return usagef("%s needs --tenant T (or --platform for platform keys)", cmd)
		}
		return fs.required("tenant", o.tenant)
	}
	return nil
}

func keyCreate(ctx context.Context, r *runner, args []string) error {
	fs := r.flags("key create", "", "Creates an API key and prints it once.")
	var o owner
	o.register(fs, true)
	var scopes, ips listFlag
	fs.Var(&scopes, "scopes", "comma-separated scopes: proxy, proxy:any-tenant, control:read, control:write, control:admin (default proxy for tenant keys)")
	fs.Var(&ips, "allowed-ips", "comma-separated CIDRs the key may be used from (default anywhere)")
	desc := fs.String("description", "", "what the key is for")
	var expiresIn durationFlag
	fs.Var(&expiresIn, "expires-in", "lifetime such as 720h (default never expires)")
	if _, err := fs.parse(args, 0); err != nil {
		return err
	}
	if err := o.check(fs); err != nil {
		return err
	}
	req := client.CreateKeyRequest{Description: *desc}
	if !fs.set("scopes") && !o.platform {
		scopes = listFlag{string(tollgate.ScopeProxy)}
	}
	if len(scopes) == 0 {
		return usagef("key create needs --scopes, e.g. --scopes proxy:any-tenant for a platform proxy key")
	}
	for _, s := range scopes {
		sc := tollgate.Scope(s)
		valid := false
		for _, v := range validScopes {
			valid = valid || v == sc
		}
		if !valid {
			return usagef("unknown scope %q: use proxy, proxy:any-tenant, control:read, control:write or control:admin", s)
		}
		req.Scopes = append(req.Scopes, sc)
	}
	for _, s := range ips {
		p, err := config.ParseCIDR(s)
		if err != nil {
			return usagef("--allowed-ips: %v; use addresses or canonical CIDRs such as 203.0.113.0/24", err)
		}
		req.AllowedIPs = append(req.AllowedIPs, p)
	}
	if fs.set("expires-in") {
		if expiresIn == 0 {
			return usagef("--expires-in must be positive; leave it out for a key that never expires")
		}
		d := client.Duration(expiresIn)
		req.ExpiresIn = &d
	}
	c, base, err := r.client()
	if err != nil {
		return err
	}
	var k client.CreatedKey
	if o.platform {
		k, err = c.CreatePlatformKey(ctx, req)
	} else {
		k, err = c.CreateKey(ctx, o.tenant, req)
	}
	if err != nil {
		return apiError(base, err)
	}
	return r.showCreatedKey(fs, k)
}

func (r *runner) showCreatedKey(fs *flagSet, k client.CreatedKey) error {
	defer fmt.Fprintln(r.stderr, "Store this key now: it is not shown again.")
	if fs.json {
		return r.printJSON(k)
	}
	return fields(r.stdout,
		"key", k.Key,
		"id", k.ID,
		"tenant", orDash(k.Tenant, "(platform)"),
		"scopes", scopeList(k.Scopes),
		"description", k.Description,
		"allowed_ips", joinOr(prefixList(k.AllowedIPs), "any"),
		"expires_at", fmtTimePtr(k.ExpiresAt, "never"),
		"created_at", fmtTime(k.CreatedAt),
	)
}

func keyList(ctx context.Context, r *runner, args []string) error {
	fs := r.flags("key list", "", "Lists API key metadata (never the keys themselves).")
	var o owner
	o.register(fs, true)
	limit := fs.Int("limit", 0, "page size (0 = server default)")
	cursor := fs.String("cursor", "", "cursor of the page to show, from a previous list")
	if _, err := fs.parse(args, 0); err != nil {
		return err
	}
	if err := o.check(fs); err != nil {
		return err
	}
	c, base, err := r.client()
	if err != nil {
		return err
	}
	var page client.List[tollgate.APIKey]
	if o.platform {
		page, err = c.ListPlatformKeys(ctx, *limit, *cursor)
	} else {
		page, err = c.ListKeys(ctx, o.tenant, *limit, *cursor)
	}
	if err != nil {
		return apiError(base, err)
	}
	if fs.json {
		return r.printJSON(page)
	}
	now := r.now()
	t := newTable(r.stdout, "ID", "STATUS", "SCOPES", "DESCRIPTION", "ALLOWED IPS", "EXPIRES", "LAST USED", "CREATED")
	for _, k := range page.Items {
		t.row(k.ID, string(k.EffectiveStatus(now)), scopeList(k.Scopes), k.Description,
			joinOr(prefixList(k.AllowedIPs), "any"), fmtTimePtr(k.ExpiresAt, "never"),
			fmtTimePtr(k.LastUsedAt, "never"), fmtTime(k.CreatedAt))
	}
	if err := t.flush(); err != nil {
		return err
	}
	r.moreHint("key list", page.NextCursor)
	return nil
}

func keyRevoke(ctx context.Context, r *runner, args []string) error {
	fs := r.flags("key revoke", "KEY_ID", "Revokes an API key now.")
	var o owner
	o.register(fs, true)
	pos, err := fs.parse(args, 1)
	if err != nil {
		return err
	}
	if err := o.check(fs); err != nil {
		return err
	}
	c, base, err := r.client()
	if err != nil {
		return err
	}
	if o.platform {
		err = c.RevokePlatformKey(ctx, pos[0])
	} else {
		err = c.RevokeKey(ctx, o.tenant, pos[0])
	}
	if err != nil {
		return apiError(base, err)
	}
	if fs.json {
		return r.printJSON(map[string]any{"id": pos[0], "revoked": true})
	}
	fmt.Fprintf(r.stdout, "revoked key %s\n", pos[0])
	return nil
}

func keyRotate(ctx context.Context, r *runner, args []string) error {
	fs := r.flags("key rotate", "KEY_ID", "Issues a replacement key; the old one keeps working for --grace.")
	var o owner
	o.register(fs, false)
	grace := durationFlag(DefaultKeyGrace)
	fs.Var(&grace, "grace", "how long the old key keeps working (0 = revoke it now)")
	pos, err := fs.parse(args, 1)
	if err != nil {
		return err
	}
	if err := o.check(fs); err != nil {
		return err
	}
	c, base, err := r.client()
	if err != nil {
		return err
	}
	k, err := c.RotateKey(ctx, o.tenant, pos[0], time.Duration(grace))
	if err != nil {
		return apiError(base, err)
	}
	if !fs.json {
		fmt.Fprintf(r.stderr, "The old key %s stops working after %s.\n", pos[0], time.Duration(grace))
	}
	return r.showCreatedKey(fs, k)
}

func runSigningKey(ctx context.Context, r *runner, args []string) error {
	return group(ctx, r, "signing-key", args, map[string]func(context.Context, *runner, []string) error{
		"list":   signingKeyList,
		"rotate": signingKeyRotate,
		"secret": signingKeySecret,
	})
}

func signingKeyList(ctx context.Context, r *runner, args []string) error {
	fs := r.flags("signing-key list", "", "Lists a tenant's signing keys (metadata only).")
	var o owner
	o.register(fs, false)
	if _, err := fs.parse(args, 0); err != nil {
		return err
	}
	if err := o.check(fs); err != nil {
		return err
	}
	c, base, err := r.client()
	if err != nil {
		return err
	}
	page, err := c.ListSigningKeys(ctx, o.tenant)
	if err != nil {
		return apiError(base, err)
	}
	if fs.json {
		return r.printJSON(page)
	}
	now := r.now()
	t := newTable(r.stdout, "ID", "STATUS", "CREATED", "GRACE UNTIL")
	for _, k := range page.Items {
		t.row(k.ID, string(k.EffectiveStatus(now)), fmtTime(k.CreatedAt), fmtTimePtr(k.GraceUntil, ""))
	}
	return t.flush()
}

func signingKeyRotate(ctx context.Context, r *runner, args []string) error {
	fs := r.flags("signing-key rotate", "", "Makes a new primary signing key; the old one keeps signing for --grace.")
	var o owner
	o.register(fs, false)
	grace := durationFlag(DefaultSigningGrace)
	fs.Var(&grace, "grace", "how long the old key keeps signing (0 after a leak)")
	if _, err := fs.parse(args, 0); err != nil {
		return err
	}
	if err := o.check(fs); err != nil {
		return err
	}
	c, base, err := r.client()
	if err != nil {
		return err
	}
	k, err := c.RotateSigningKey(ctx, o.tenant, time.Duration(grace))
	if err != nil {
		return apiError(base, err)
	}
	if fs.json {
		return r.printJSON(k)
	}
	if err := fields(r.stdout, "id", k.ID, "tenant", k.Tenant, "status", string(k.Status), "created_at", fmtTime(k.CreatedAt)); err != nil {
		return err
	}
	fmt.Fprintf(r.stderr, "The previous key keeps signing for %s; give receivers the new secret ('tollgate signing-key secret --tenant %s --host H').\n", time.Duration(grace), o.tenant)
	return nil
}

func signingKeySecret(ctx context.Context, r *runner, args []string) error {
	fs := r.flags("signing-key secret", "", "Prints the secret a receiver at --host verifies deliveries with.")
	var o owner
	o.register(fs, false)
	host := fs.String("host", "", "the receiver's host name (may be omitted for signing_scope tenant)")
	id := fs.String("id", "", "signing key id (default the primary key)")
	if _, err := fs.parse(args, 0); err != nil {
		return err
	}
	if err := o.check(fs); err != nil {
		return err
	}
	c, base, err := r.client()
	if err != nil {
		return err
	}
	keyID := *id
	if keyID == "" {
		page, err := c.ListSigningKeys(ctx, o.tenant)
		if err != nil {
			return apiError(base, err)
		}
		now := r.now()
		for _, k := range page.Items {
			if k.EffectiveStatus(now) == tollgate.SigningPrimary {
				keyID = k.ID
				break
			}
		}
		if keyID == "" {
			return fmt.Errorf("tenant %s has no primary signing key; run 'tollgate signing-key rotate --tenant %s'", o.tenant, o.tenant)
		}
	}
	s, err := c.SigningSecret(ctx, o.tenant, keyID, *host)
	if err != nil {
		return apiError(base, err)
	}
	if fs.json {
		return r.printJSON(s)
	}
	fmt.Fprintln(r.stdout, s.Secret)
	return nil
}

func scopeList(s []tollgate.Scope) string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = string(v)
	}
	return strings.Join(out, ",")
}

func prefixList(ps []netip.Prefix) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

func orDash(s, none string) string {
	if s == "" {
		return none
	}
	return s
}
