package client

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate"
)

// List is the envelope of every list response: one page of items and the
// opaque cursor of the next page ("" on the last page).
type List[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

// Duration is a time.Duration that travels as Go duration syntax ("168h").
type Duration time.Duration

// MarshalJSON writes the duration as a string such as "24h0m0s".
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON accepts Go duration syntax; negative durations are refused.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string such as \"24h\": %w", err)
	}
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("duration %q: %w", s, err)
	}
	if v < 0 {
		return fmt.Errorf("duration %q is negative", s)
	}
	*d = Duration(v)
	return nil
}

// CreateKeyRequest is the body of POST /v1/keys and POST /v1/tenants/{tenant}/keys.
// At most one of ExpiresAt and ExpiresIn may be set; neither means no expiry.
type CreateKeyRequest struct {
	Scopes      []tollgate.Scope `json:"scopes"`
	Description string           `json:"description,omitempty"`
	AllowedIPs  []netip.Prefix   `json:"allowed_ips,omitempty"`
	ExpiresAt   *time.Time       `json:"expires_at,omitempty"`
	ExpiresIn   *Duration        `json:"expires_in,omitempty"`
}

// CreatedKey is a key's metadata plus the key itself, which the API shows
// exactly once (on creation and rotation).
type CreatedKey struct {
	tollgate.APIKey
	Key string `json:"key"`
}

// RotateRequest is the body of the key and signing-key rotate routes.
type RotateRequest struct {
	GracePeriod *Duration `json:"grace_period,omitempty"`
}

// SigningSecret is the secret a receiver at Host verifies deliveries with.
type SigningSecret struct {
	Secret       string `json:"secret"`
	Host         string `json:"host,omitempty"`
	SigningKeyID string `json:"signing_key_id"`
}

// WhoAmI describes the caller of GET /v1/whoami.
type WhoAmI struct {
	KeyID     string             `json:"key_id,omitempty"` // empty for the admin token
	Tenant    string             `json:"tenant,omitempty"` // empty for platform keys and the admin token
	Scopes    []tollgate.Scope   `json:"scopes"`
	ActorType tollgate.ActorType `json:"actor_type"`
}

// AuditFilter selects events for GET /v1/audit. Zero fields do not filter.
// Tenant "" means the caller's own tenant for tenant keys and every chain
// for admins.
type AuditFilter struct {
	Tenant  string
	Action  string
	Outcome tollgate.Outcome
	Since   time.Time
	Until   time.Time
	Limit   int
	Cursor  string
}

// VerifyResult is the answer of GET /v1/audit/verify.
type VerifyResult struct {
	OK       bool   `json:"ok"`
	Events   int    `json:"events"`
	Head     string `json:"head"`
	FirstBad string `json:"first_bad,omitempty"`
	Problem  string `json:"problem,omitempty"` // why FirstBad does not verify
}

// FieldError names one invalid field of a request body.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Problem is an RFC 9457 problem document; every API error is one.
type Problem struct {
	Type   string       `json:"type"`
	Title  string       `json:"title"`
	Status int          `json:"status"`
	Detail string       `json:"detail"`
	Errors []FieldError `json:"errors,omitempty"`
}

// Error renders the problem as one sentence with its field errors.
func (p *Problem) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s", p.Status, p.Title)
	if p.Detail != "" {
		b.WriteString(": ")
		b.WriteString(p.Detail)
	}
	for _, fe := range p.Errors {
		fmt.Fprintf(&b, "; %s: %s", fe.Field, fe.Message)
	}
	return b.String()
}
