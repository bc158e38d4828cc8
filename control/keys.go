package control

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/apikey"
	"github.com/tollgate-dev/tollgate/control/client"
	"github.com/tollgate-dev/tollgate/policy"
)

const (
	// defaultKeyGrace gives workers a week to pick up a rotated key (the
	// CLI's default too); signing keys default to 24h, as receivers expect.
	defaultKeyGrace = 168 * time.Hour
	maxDescription  = 200
	maxAllowedIPs   = 100
)

var (
	tenantScopes   = []tollgate.Scope{tollgate.ScopeProxy, tollgate.ScopeControlRead, tollgate.ScopeControlWrite}
	platformScopes = []tollgate.Scope{tollgate.ScopeProxyAnyTenant, tollgate.ScopeControlAdmin}
)

// newKey validates req and builds the key's metadata and the key itself.
func (s *Server) newKey(req client.CreateKeyRequest, tenant string, allowed []tollgate.Scope) (tollgate.APIKey, string, error) {
	now := s.now().UTC()
	var v validationError
	scopes := make([]tollgate.Scope, 0, len(req.Scopes))
	for i, sc := range req.Scopes {
		if !slices.Contains(allowed, sc) {
			v.add(fmt.Sprintf("scopes[%d]", i), "must be one of %v for this kind of key", allowed)
		} else if !slices.Contains(scopes, sc) {
			scopes = append(scopes, sc)
		}
	}
	if len(req.Scopes) == 0 {
		v.add("scopes", "must name at least one of %v", allowed)
	}
	if utf8.RuneCountInString(req.Description) > maxDescription || !utf8.ValidString(req.Description) || hasControl(req.Description) {
		v.add("description", "must be text of at most %d characters without control characters", maxDescription)
	}
	ips := make([]netip.Prefix, 0, len(req.AllowedIPs))
	if len(req.AllowedIPs) > maxAllowedIPs {
		v.add("allowed_ips", "must list at most %d prefixes", maxAllowedIPs)
	}
	for i, p := range req.AllowedIPs {
		canon, err := policy.ParsePrefix(p.String())
		if !p.IsValid() || err != nil {
			v.add(fmt.Sprintf("allowed_ips[%d]", i), "%s", errText(err, "not a valid prefix"))
			continue
		}
		ips = append(ips, canon)
	}
	var expires *time.Time
	switch {
	case req.ExpiresAt != nil && req.ExpiresIn != nil:
		v.add("expires_in", "give expires_at or expires_in, not both")
	case req.ExpiresAt != nil:
		if !req.ExpiresAt.After(now) {
			v.add("expires_at", "must be in the future")
		}
		t := req.ExpiresAt.UTC()
		expires = &t
	case req.ExpiresIn != nil:
		if *req.ExpiresIn <= 0 {
			v.add("expires_in", "must be a positive duration such as \"720h\"")
		}
		t := now.Add(time.Duration(*req.ExpiresIn))
		expires = &t
	}
	if err := v.err(); err != nil {
		return tollgate.APIKey{}, "", err
	}
	key, err := apikey.Generate()
	if err != nil {
		return tollgate.APIKey{}, "", err
	}
	h := apikey.Hash(key)
	return tollgate.APIKey{
		ID:          apikey.NewID(now),
		Tenant:      tenant,
		Scopes:      scopes,
		Description: req.Description,
		AllowedIPs:  ips,
		ExpiresAt:   expires,
		CreatedAt:   now,
		Status:      tollgate.KeyActive,
		Hash:        h[:],
	}, key, nil
}

func keyMeta(k tollgate.APIKey) map[string]any {
	return map[string]any{"scopes": k.Scopes, "allowed_ips": k.AllowedIPs, "expires_at": k.ExpiresAt}
}

func (s *Server) createKeyFor(w http.ResponseWriter, r *http.Request, c *caller, tenant string, allowed []tollgate.Scope) error {
	var req client.CreateKeyRequest
	if err := decode(w, r, &req); err != nil {
		return err
	}
	k, key, err := s.newKey(req, tenant, allowed)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if err := c.repo(s.store).CreateKey(ctx, k); err != nil {
		return wrap(err, "create key")
	}
	if err := s.record(ctx, c, tenant, "key.create", k.ID, keyMeta(k)); err != nil {
		return err
	}
	s.reload(ctx)
	writeJSON(w, http.StatusCreated, client.CreatedKey{APIKey: k, Key: key})
	return nil
}

func (s *Server) createKey(w http.ResponseWriter, r *http.Request, c *caller) error {
	tenant := r.PathValue("tenant")
	if _, err := s.loadTenant(r.Context(), c, tenant); err != nil {
		return err
	}
	return s.createKeyFor(w, r, c, tenant, tenantScopes)
}

func (s *Server) createPlatformKey(w http.ResponseWriter, r *http.Request, c *caller) error {
	return s.createKeyFor(w, r, c, "", platformScopes)
}

// present fills what the stored row cannot know: expiry as of now and the
// registry's not yet flushed last use.
func (s *Server) present(keys []tollgate.APIKey) []tollgate.APIKey {
	now := s.now()
	for i := range keys {
		k := &keys[i]
		k.Status = k.EffectiveStatus(now)
		if at, ok := s.reg.LastUsed(k.ID); ok && (k.LastUsedAt == nil || at.After(*k.LastUsedAt)) {
			k.LastUsedAt = &at
		}
	}
	return keys
}

func (s *Server) listKeysOf(w http.ResponseWriter, r *http.Request, c *caller, tenant string) error {
	p, err := pageFrom(r)
	if err != nil {
		return err
	}
	items, next, err := c.repo(s.store).ListKeys(r.Context(), tenant, p)
	if err != nil {
		return pageErr(p, err, "list keys")
	}
	writeJSON(w, http.StatusOK, list(s.present(items), next))
	return nil
}

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request, c *caller) error {
	tenant := r.PathValue("tenant")
	if _, err := s.loadTenant(r.Context(), c, tenant); err != nil {
		return err
	}
	return s.listKeysOf(w, r, c, tenant)
}

func (s *Server) listPlatformKeys(w http.ResponseWriter, r *http.Request, c *caller) error {
	return s.listKeysOf(w, r, c, "")
}

// loadKey returns key id if it belongs to tenant ("" for platform keys).
func (s *Server) loadKey(ctx context.Context, c *caller, tenant, id string) (tollgate.APIKey, error) {
	k, err := c.repo(s.store).GetKey(ctx, id)
	if errors.Is(err, tollgate.ErrNotFound) || (err == nil && k.Tenant != tenant) {
		return tollgate.APIKey{}, notFound("key " + quote(id))
	}
	return k, wrap(err, "get key %q", id)
}

func (s *Server) revoke(w http.ResponseWriter, r *http.Request, c *caller, tenant string) error {
	ctx := r.Context()
	k, err := s.loadKey(ctx, c, tenant, r.PathValue("key_id"))
	if err != nil {
		return err
	}
	if k.Status != tollgate.KeyRevoked {
		now := s.now().UTC()
		k.Status, k.RevokedAt = tollgate.KeyRevoked, &now
		if err := c.repo(s.store).UpdateKey(ctx, k); err != nil {
			return wrap(err, "revoke key %q", k.ID)
		}
		if err := s.record(ctx, c, tenant, "key.revoke", k.ID, nil); err != nil {
			return err
		}
		s.reload(ctx)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request, c *caller) error {
	return s.revoke(w, r, c, r.PathValue("tenant"))
}

func (s *Server) revokePlatformKey(w http.ResponseWriter, r *http.Request, c *caller) error {
	return s.revoke(w, r, c, "")
}

// decodeRotate reads an optional {"grace_period": "..."} body; an empty
// body means the default.
func decodeRotate(w http.ResponseWriter, r *http.Request, def time.Duration) (time.Duration, error) {
	body, err := readBody(w, r)
	if err != nil {
		return 0, err
	}
	var req client.RotateRequest
	if len(bytes.TrimSpace(body)) > 0 {
		if err := decodeBytes(body, &req); err != nil {
			return 0, err
		}
	}
	if req.GracePeriod == nil {
		return def, nil
	}
	return time.Duration(*req.GracePeriod), nil
}

func (s *Server) rotateKey(w http.ResponseWriter, r *http.Request, c *caller) error {
	tenant := r.PathValue("tenant")
	grace, err := decodeRotate(w, r, defaultKeyGrace)
	if err != nil {
		return err
	}
	ctx := r.Context()
	old, err := s.loadKey(ctx, c, tenant, r.PathValue("key_id"))
	if err != nil {
		return err
	}
	now := s.now().UTC()
	if st := old.EffectiveStatus(now); st != tollgate.KeyActive {
		return conflict("key %s is %s; only active keys can be rotated", quote(old.ID), st)
	}
	req := client.CreateKeyRequest{Scopes: old.Scopes, Description: old.Description, AllowedIPs: old.AllowedIPs}
	if old.ExpiresAt != nil {
		// The replacement lives as long as the original was meant to.
		d := client.Duration(old.ExpiresAt.Sub(old.CreatedAt))
		if d > 0 {
			req.ExpiresIn = &d
		}
	}
	next, key, err := s.newKey(req, tenant, tenantScopes)
	if err != nil {
		return err
	}
	repo := c.repo(s.store)
	if err := repo.CreateKey(ctx, next); err != nil {
		return wrap(err, "create replacement key")
	}
	end := now.Add(grace)
	if old.ExpiresAt == nil || end.Before(*old.ExpiresAt) {
		old.ExpiresAt = &end
	}
	if err := repo.UpdateKey(ctx, old); err != nil {
		return wrap(err, "shorten key %q", old.ID)
	}
	if err := s.record(ctx, c, tenant, "key.rotate", old.ID, map[string]any{
		"replacement_id": next.ID, "grace_period": grace.String(), "old_expires_at": old.ExpiresAt,
	}); err != nil {
		return err
	}
	s.reload(ctx)
	writeJSON(w, http.StatusCreated, client.CreatedKey{APIKey: next, Key: key})
	return nil
}
