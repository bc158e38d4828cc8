package control

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/signer"
)

// systemCaller is the actor of changes that come from configuration.
func systemCaller() *caller { return &caller{admin: true, read: true, write: true} }

func (s *Server) defaults() (tollgate.Tenant, error) {
	d := s.opts.Defaults
	if o := s.defaultsOverride.Load(); o != nil {
		d = *o
	}
	if d.Status == "" && d.Mode == "" && d.SigningScope == "" {
		d = tollgate.DefaultTenant()
	}
	return cloneTenant(d)
}

// cloneTenant deep-copies t so defaults are never shared between tenants.
func cloneTenant(t tollgate.Tenant) (tollgate.Tenant, error) {
	b, err := json.Marshal(t)
	if err != nil {
		return tollgate.Tenant{}, fmt.Errorf("copy tenant: %w", err)
	}
	var out tollgate.Tenant
	if err := json.Unmarshal(b, &out); err != nil {
		return tollgate.Tenant{}, fmt.Errorf("copy tenant: %w", err)
	}
	return out, nil
}

func (s *Server) createTenant(w http.ResponseWriter, r *http.Request, c *caller) error {
	t, err := s.defaults()
	if err != nil {
		return err
	}
	if err := decode(w, r, &t); err != nil {
		return err
	}
	t.Declarative = false
	if err := s.insertTenant(r.Context(), c, t); err != nil {
		return err
	}
	got, err := s.store.Admin().GetTenant(r.Context(), t.ID)
	if err != nil {
		return wrap(err, "read created tenant %q", t.ID)
	}
	writeJSON(w, http.StatusCreated, got)
	return nil
}

// insertTenant validates, stores the tenant with its first primary signing
// key, audits and reloads.
func (s *Server) insertTenant(ctx context.Context, c *caller, t tollgate.Tenant) error {
	if err := validateTenant(&t); err != nil {
		return err
	}
	now := s.now().UTC()
	t.CreatedAt, t.UpdatedAt = now, now
	admin := s.store.Admin()
	if err := admin.CreateTenant(ctx, t); err != nil {
		if errors.Is(err, tollgate.ErrConflict) {
			return conflict("tenant %s already exists", quote(t.ID))
		}
		return wrap(err, "create tenant %q", t.ID)
	}
	sk, err := s.newSigningKey(t.ID, now)
	if err == nil {
		err = admin.CreateSigningKey(ctx, sk)
	}
	if err != nil {
		// Without a signing key the tenant could not sign; undo rather than
		// leave half a tenant behind.
		if derr := admin.DeleteTenant(ctx, t.ID, now); derr != nil {
			s.logger.Error("undo tenant without signing key", "tenant", t.ID, "error", derr)
		}
		return wrap(err, "create signing key of tenant %q", t.ID)
	}
	if err := s.record(ctx, c, t.ID, "tenant.create", t.ID, map[string]any{
		"mode": t.Mode, "status": t.Status, "declarative": t.Declarative, "signing_key_id": sk.ID,
	}); err != nil {
		return err
	}
	s.reload(ctx)
	return nil
}

// newSigningKey makes a primary key of 32 random bytes sealed with its id as aad.
func (s *Server) newSigningKey(tenant string, now time.Time) (tollgate.SigningKey, error) {
	id := "sk_" + ulid.MustNew(ulid.Timestamp(now), rand.Reader).String()
	key, err := signer.GenerateKey()
	if err != nil {
		return tollgate.SigningKey{}, fmt.Errorf("generate signing key: %w", err)
	}
	defer clear(key)
	sealed, err := s.opts.Sealer.Seal(key, []byte(id))
	if err != nil {
		return tollgate.SigningKey{}, fmt.Errorf("seal signing key: %w", err)
	}
	return tollgate.SigningKey{ID: id, Tenant: tenant, Status: tollgate.SigningPrimary, CreatedAt: now, Sealed: sealed}, nil
}

func (s *Server) listTenants(w http.ResponseWriter, r *http.Request, c *caller) error {
	p, err := pageFrom(r)
	if err != nil {
		return err
	}
	items, next, err := c.repo(s.store).ListTenants(r.Context(), p)
	if err != nil {
		return pageErr(p, err, "list tenants")
	}
	writeJSON(w, http.StatusOK, list(items, next))
	return nil
}

func (s *Server) loadTenant(ctx context.Context, c *caller, id string) (tollgate.Tenant, error) {
	t, err := c.repo(s.store).GetTenant(ctx, id)
	if errors.Is(err, tollgate.ErrNotFound) {
		return t, notFound("tenant " + quote(id))
	}
	return t, wrap(err, "get tenant %q", id)
}

func (s *Server) getTenant(w http.ResponseWriter, r *http.Request, c *caller) error {
	t, err := s.loadTenant(r.Context(), c, r.PathValue("tenant"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}

func (s *Server) patchTenant(w http.ResponseWriter, r *http.Request, c *caller) error {
	var patch json.RawMessage
	if err := decode(w, r, &patch, "application/merge-patch+json", "application/json"); err != nil {
		return err
	}
	if trimmed := bytes.TrimSpace(patch); len(trimmed) == 0 || trimmed[0] != '{' {
		return badRequest("a merge patch must be a JSON object")
	}
	ctx := r.Context()
	cur, err := s.loadTenant(ctx, c, r.PathValue("tenant"))
	if err != nil {
		return err
	}
	next, err := applyPatch(cur, patch)
	if err != nil {
		return err
	}
	if !c.admin {
		if f := adminFieldChanged(cur, next); f != "" {
			return forbidden("changing %s needs control:admin", f)
		}
	}
	stored, err := s.updateTenant(ctx, c, cur, next)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, stored)
	return nil
}

// applyPatch merges patch into cur and decodes the result strictly; fields
// the server owns keep their stored values.
func applyPatch(cur tollgate.Tenant, patch []byte) (tollgate.Tenant, error) {
	curJSON, err := json.Marshal(cur)
	if err != nil {
		return cur, fmt.Errorf("encode tenant: %w", err)
	}
	merged, err := mergePatch(curJSON, patch)
	if err != nil {
		return cur, badRequest("%v", err)
	}
	var next tollgate.Tenant
	if err := decodeBytes(merged, &next); err != nil {
		return cur, err
	}
	if next.ID != cur.ID {
		var v validationError
		v.add("id", "cannot be changed")
		return cur, v.err()
	}
	next.CreatedAt, next.UpdatedAt, next.Declarative = cur.CreatedAt, cur.UpdatedAt, cur.Declarative
	return next, nil
}

// adminFieldChanged names the first field only an admin may change: who may
// reach private networks, whether a tenant runs at all, and how much of the
// shared proxy it may use are the operator's decisions.
func adminFieldChanged(cur, next tollgate.Tenant) string {
	switch {
	case !slices.Equal(cur.Policy.AllowCIDRs, next.Policy.AllowCIDRs):
		return "policy.allow_cidrs"
	case cur.Status != next.Status:
		return "status"
	case cur.Quotas != next.Quotas:
		return "quotas"
	}
	return ""
}

// updateTenant validates and stores next and returns it as stored.
func (s *Server) updateTenant(ctx context.Context, c *caller, cur, next tollgate.Tenant) (tollgate.Tenant, error) {
	if err := validateTenant(&next); err != nil {
		return next, err
	}
	next.UpdatedAt = s.now().UTC()
	if err := s.store.Admin().UpdateTenant(ctx, next); err != nil {
		if errors.Is(err, tollgate.ErrNotFound) {
			return next, notFound("tenant " + quote(next.ID))
		}
		return next, wrap(err, "update tenant %q", next.ID)
	}
	if err := s.record(ctx, c, next.ID, "tenant.update", next.ID, map[string]any{"changed": changedFields(cur, next)}); err != nil {
		return next, err
	}
	s.reload(ctx)
	return next, nil
}

// changedFields lists the top-level JSON fields that differ (names only:
// values may be long and belong in the tenant, not the trail).
func changedFields(a, b tollgate.Tenant) []string {
	var am, bm map[string]json.RawMessage
	aj, _ := json.Marshal(a)
	bj, _ := json.Marshal(b)
	_ = json.Unmarshal(aj, &am)
	_ = json.Unmarshal(bj, &bm)
	out := []string{}
	for k, v := range bm {
		if k != "updated_at" && !bytes.Equal(am[k], v) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

func (s *Server) deleteTenant(w http.ResponseWriter, r *http.Request, c *caller) error {
	if !c.admin {
		return forbidden("deleting a tenant needs control:admin")
	}
	ctx := r.Context()
	id := r.PathValue("tenant")
	if _, err := s.loadTenant(ctx, c, id); err != nil {
		return err
	}
	if err := s.store.Admin().DeleteTenant(ctx, id, s.now().UTC()); err != nil {
		if errors.Is(err, tollgate.ErrNotFound) {
			return notFound("tenant " + quote(id))
		}
		return wrap(err, "delete tenant %q", id)
	}
	if err := s.record(ctx, c, id, "tenant.delete", id, nil); err != nil {
		return err
	}
	s.reload(ctx)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// UpsertDeclarative applies the config file's tenants: each is created, or
// updated if it already exists as a declarative tenant. A tenant created
// through the API with the same id is left alone (with a warning): the API
// owns it. Every tenant is validated before anything is written.
func (s *Server) UpsertDeclarative(ctx context.Context, tenants []tollgate.Tenant) error {
	prepared := make([]tollgate.Tenant, len(tenants))
	for i, t := range tenants {
		t.Declarative = true
		if err := validateTenant(&t); err != nil {
			return fmt.Errorf("declarative tenant %q: %w", t.ID, err)
		}
		prepared[i] = t
	}
	admin := s.store.Admin()
	for _, t := range prepared {
		cur, err := admin.GetTenant(ctx, t.ID)
		switch {
		case errors.Is(err, tollgate.ErrNotFound):
			if err := s.insertTenant(ctx, systemCaller(), t); err != nil {
				return fmt.Errorf("declarative tenant %q: %w", t.ID, err)
			}
		case err != nil:
			return fmt.Errorf("get tenant %q: %w", t.ID, err)
		case !cur.Declarative:
			s.logger.Warn("config tenant has the id of a tenant created through the API; leaving the API tenant alone", "tenant", t.ID)
		default:
			t.CreatedAt = cur.CreatedAt
			t.UpdatedAt = cur.UpdatedAt
			norm := cur
			_ = validateTenant(&norm) // same nil-versus-empty spelling as t
			if len(changedFields(norm, t)) == 0 {
				continue
			}
			if _, err := s.updateTenant(ctx, systemCaller(), cur, t); err != nil {
				return fmt.Errorf("declarative tenant %q: %w", t.ID, err)
			}
		}
	}
	return nil
}

// EnsureTenant creates t if no tenant has its id (used for "default" when
// proxy.require_auth is false); an existing tenant is left as it is.
func (s *Server) EnsureTenant(ctx context.Context, t tollgate.Tenant) error {
	_, err := s.store.Admin().GetTenant(ctx, t.ID)
	if err == nil {
		return nil
	}
	if !errors.Is(err, tollgate.ErrNotFound) {
		return fmt.Errorf("get tenant %q: %w", t.ID, err)
	}
	err = s.insertTenant(ctx, systemCaller(), t)
	var ae *apiError
	if errors.As(err, &ae) && ae.status == http.StatusConflict {
		return nil // created concurrently by another replica
	}
	if err != nil {
		return fmt.Errorf("ensure tenant %q: %w", t.ID, err)
	}
	return nil
}
