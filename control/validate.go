package control

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"unicode/utf8"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/policy"
)

const maxNameLen = 200

// validateTenant checks every field of t and normalises host patterns and
// prefixes in place (lower case, canonical CIDR), so what is stored is what
// the proxy will match.
func validateTenant(t *tollgate.Tenant) error {
	var v validationError
	if !tollgate.ValidTenantID(t.ID) {
		v.add("id", "must match ^[a-z0-9][a-z0-9-]{0,62}$")
	}
	if utf8.RuneCountInString(t.Name) > maxNameLen || !utf8.ValidString(t.Name) || hasControl(t.Name) {
		v.add("name", "must be valid UTF-8 text of at most %d characters without control characters", maxNameLen)
	}
	if t.Status != tollgate.TenantActive && t.Status != tollgate.TenantSuspended {
		v.add("status", "must be active or suspended")
	}
	if t.Mode != tollgate.ModeTunnel && t.Mode != tollgate.ModeIntercept {
		v.add("mode", "must be tunnel or intercept")
	}
	if t.SigningScope != tollgate.SigningScopeHost && t.SigningScope != tollgate.SigningScopeTenant {
		v.add("signing_scope", "must be host or tenant")
	}
	p := &t.Policy
	p.AllowedHosts = hostList(&v, "policy.allowed_hosts", p.AllowedHosts)
	p.DeniedHosts = hostList(&v, "policy.denied_hosts", p.DeniedHosts)
	if p.AllowCIDRs == nil {
		p.AllowCIDRs = []netip.Prefix{}
	}
	for i, pr := range p.AllowCIDRs {
		canon, err := policy.ParsePrefix(pr.String())
		if !pr.IsValid() || err != nil {
			v.add(fmt.Sprintf("policy.allow_cidrs[%d]", i), "%v", errText(err, "not a valid prefix"))
			continue
		}
		p.AllowCIDRs[i] = canon
	}
	if p.AllowedPorts == nil {
		p.AllowedPorts = []uint16{}
	}
	for i, port := range p.AllowedPorts {
		if port == 0 {
			v.add(fmt.Sprintf("policy.allowed_ports[%d]", i), "must be between 1 and 65535")
		}
	}
	if p.MaxBodyBytes < 0 {
		v.add("policy.max_body_bytes", "must not be negative")
	}
	q := t.Quotas
	for _, f := range []struct {
		name string
		val  float64
	}{
		{"quotas.requests_per_second", q.RequestsPerSecond},
		{"quotas.burst", float64(q.Burst)},
		{"quotas.max_concurrent", float64(q.MaxConcurrent)},
		{"quotas.bytes_per_second", float64(q.BytesPerSecond)},
		{"quotas.per_key_requests_per_second", q.PerKeyRequestsPerSecond},
		{"quotas.per_host_requests_per_second", q.PerHostRequestsPerSecond},
	} {
		if f.val < 0 || math.IsNaN(f.val) || math.IsInf(f.val, 0) {
			v.add(f.name, "must be a non-negative number (0 = unlimited)")
		}
	}
	return v.err()
}

func hostList(v *validationError, field string, hosts []string) []string {
	if hosts == nil {
		return []string{}
	}
	out := make([]string, 0, len(hosts))
	for i, h := range hosts {
		norm, err := policy.ParseHostPattern(h)
		if err != nil {
			v.add(fmt.Sprintf("%s[%d]", field, i), "%v", err)
			continue
		}
		if !slices.Contains(out, norm) {
			out = append(out, norm)
		}
	}
	return out
}

func errText(err error, fallback string) string {
	if err != nil {
		return err.Error()
	}
	return fallback
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return true
		}
	}
	return false
}

// mergePatch applies an RFC 7396 merge patch to target; both are JSON texts.
func mergePatch(target, patch []byte) ([]byte, error) {
	var p any
	dec := json.NewDecoder(bytes.NewReader(patch))
	dec.UseNumber()
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("patch is not valid JSON: %w", err)
	}
	var t any
	dec = json.NewDecoder(bytes.NewReader(target))
	dec.UseNumber()
	if err := dec.Decode(&t); err != nil {
		return nil, fmt.Errorf("decode target: %w", err)
	}
	return json.Marshal(mergeValue(t, p))
}

func mergeValue(target, patch any) any {
	pm, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	tm, ok := target.(map[string]any)
	if !ok {
		tm = map[string]any{}
	}
	for k, v := range pm {
		if v == nil {
			delete(tm, k)
			continue
		}
		tm[k] = mergeValue(tm[k], v)
	}
	return tm
}
