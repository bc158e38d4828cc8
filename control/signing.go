package control

import (
	"net/http"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/control/client"
	"github.com/tollgate-dev/tollgate/policy"
	"github.com/tollgate-dev/tollgate/signer"
)

// defaultSigningGrace follows Svix and Stripe: a day of overlap lets every
// receiver pick up the new secret; "0s" is for leaks.
const defaultSigningGrace = 24 * time.Hour

func (s *Server) signingKeys(r *http.Request, c *caller, tenant string) ([]tollgate.SigningKey, error) {
	if _, err := s.loadTenant(r.Context(), c, tenant); err != nil {
		return nil, err
	}
	keys, err := c.repo(s.store).ListSigningKeys(r.Context(), tenant)
	if err != nil {
		return nil, wrap(err, "list signing keys of %q", tenant)
	}
	now := s.now()
	for i := range keys {
		keys[i].Status = keys[i].EffectiveStatus(now)
	}
	return keys, nil
}

func (s *Server) listSigningKeys(w http.ResponseWriter, r *http.Request, c *caller) error {
	keys, err := s.signingKeys(r, c, r.PathValue("tenant"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list(keys, ""))
	return nil
}

func (s *Server) rotateSigningKey(w http.ResponseWriter, r *http.Request, c *caller) error {
	tenant := r.PathValue("tenant")
	grace, err := decodeRotate(w, r, defaultSigningGrace)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if _, err := s.loadTenant(ctx, c, tenant); err != nil {
		return err
	}
	now := s.now().UTC()
	next, err := s.newSigningKey(tenant, now)
	if err != nil {
		return err
	}
	if err := c.repo(s.store).RotateSigningKey(ctx, tenant, next, now.Add(grace)); err != nil {
		return wrap(err, "rotate signing key of %q", tenant)
	}
	if err := s.record(ctx, c, tenant, "signing_key.rotate", next.ID, map[string]any{"grace_period": grace.String()}); err != nil {
		return err
	}
	s.reload(ctx)
	writeJSON(w, http.StatusCreated, next)
	return nil
}

// secretHost normalises the host a receiver listens on exactly as the proxy
// does before deriving (lower case, one trailing dot removed, IPv6 unbracketed).
func secretHost(h string) (string, error) {
	authority := h + ":443"
	if strings.IndexByte(h, ':') >= 0 && !strings.HasPrefix(h, "[") {
		authority = "[" + h + "]:443"
	}
	t, err := policy.ParseAuthority(authority)
	if err != nil {
		return "", err
	}
	return t.Host, nil
}

func (s *Server) signingSecret(w http.ResponseWriter, r *http.Request, c *caller) error {
	ctx := r.Context()
	tenantID, id := r.PathValue("tenant"), r.PathValue("id")
	t, err := s.loadTenant(ctx, c, tenantID)
	if err != nil {
		return err
	}
	host := r.URL.Query().Get("host")
	if host != "" {
		if host, err = secretHost(host); err != nil {
			var v validationError
			v.add("host", "%v", err)
			return v.err()
		}
	} else if t.SigningScope != tollgate.SigningScopeTenant {
		var v validationError
		v.add("host", "is required: with signing_scope host every receiver host has its own secret")
		return v.err()
	}
	keys, err := s.signingKeys(r, c, tenantID)
	if err != nil {
		return err
	}
	var sk *tollgate.SigningKey
	for i := range keys {
		if keys[i].ID == id {
			sk = &keys[i]
		}
	}
	if sk == nil {
		return notFound("signing key " + quote(id))
	}
	if sk.Status == tollgate.SigningRetired {
		return conflict("signing key %s is retired and no longer signs", quote(id))
	}
	key, err := s.opts.Sealer.Open(sk.Sealed, []byte(sk.ID))
	if err != nil {
		return wrap(err, "open signing key %q", sk.ID)
	}
	defer clear(key)
	secret := signer.FormatSecret(key)
	if t.SigningScope != tollgate.SigningScopeTenant {
		derived := signer.DeriveHostKey(key, host)
		secret = signer.FormatSecret(derived)
		clear(derived)
	}
	// Handing out a secret is not a change, but who obtained which secret
	// is what an incident review asks first.
	if err := s.record(ctx, c, tenantID, "signing_key.secret_read", sk.ID, map[string]any{"host": host}); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, client.SigningSecret{Secret: secret, Host: host, SigningKeyID: sk.ID})
	return nil
}
