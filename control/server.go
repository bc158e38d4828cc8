package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/audit"
	"github.com/tollgate-dev/tollgate/identity"
)

// maxBody bounds request bodies; the largest legitimate one is a tenant.
const maxBody = 1 << 20

// Sealer encrypts signing keys at rest; *keyseal.Sealer implements it.
// aad is the signing key id, so a sealed blob cannot be moved to another key.
type Sealer interface {
	Seal(plaintext, aad []byte) ([]byte, error)
	Open(sealed, aad []byte) ([]byte, error)
}

// Options wires a Server.
type Options struct {
	Store    tollgate.Store
	Registry *identity.Registry
	Sealer   Sealer
	CAPEM    func() []byte               // intercept CA certificate; nil: 404
	Ready    func(context.Context) error // store and quota backend; nil: store ping only
	Metrics  http.Handler                // nil: 404
	Defaults tollgate.Tenant             // new tenants are decoded onto this
	Now      func() time.Time
	Logger   *slog.Logger
}

// Server is the control API and the business layer behind it.
type Server struct {
	opts    Options
	store   tollgate.Store
	reg     *identity.Registry
	now     func() time.Time
	logger  *slog.Logger
	mux     *http.ServeMux
	handler http.Handler

	// defaultsOverride is set by SetDefaults on reload; nil means opts.Defaults.
	defaultsOverride atomic.Pointer[tollgate.Tenant]
}

// SetDefaults replaces the template new tenants are decoded onto (the
// config's defaults: block, re-read on SIGHUP). Existing tenants keep theirs.
func (s *Server) SetDefaults(t tollgate.Tenant) { s.defaultsOverride.Store(&t) }

// NewServer builds the server; Store, Registry and Sealer are required.
func NewServer(opts Options) *Server {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{opts: opts, store: opts.Store, reg: opts.Registry, now: opts.Now, logger: opts.Logger, mux: http.NewServeMux()}
	s.routes()
	s.handler = http.HandlerFunc(s.serve)
	return s
}

// Handler is the HTTP handler of the control listener.
func (s *Server) Handler() http.Handler { return s.handler }

// access is what a route requires of its caller.
type access int

const (
	public    access = iota // no token
	anyKey                  // any valid key, whatever its scopes
	anyRead                 // any control scope; tenant routes check the tenant themselves
	tenantRd                // control:read on the {tenant} of the path
	tenantWr                // control:write on the {tenant} of the path
	adminOnly               // control:admin
)

type handlerFunc func(w http.ResponseWriter, r *http.Request, c *caller) error

func (s *Server) routes() {
	s.handle("GET /healthz", public, s.healthz)
	s.handle("GET /readyz", public, s.readyz)
	s.handle("GET /metrics", public, s.metrics)
	s.handle("GET /v1/intercept-ca.pem", public, s.interceptCA)
	s.handle("GET /v1/whoami", anyKey, s.whoami)

	s.change("POST /v1/keys", adminOnly, "key.create", s.createPlatformKey)
	s.handle("GET /v1/keys", adminOnly, s.listPlatformKeys)
	s.change("DELETE /v1/keys/{key_id}", adminOnly, "key.revoke", s.revokePlatformKey)

	s.change("POST /v1/tenants", adminOnly, "tenant.create", s.createTenant)
	s.handle("GET /v1/tenants", adminOnly, s.listTenants)
	s.handle("GET /v1/tenants/{tenant}", tenantRd, s.getTenant)
	s.change("PATCH /v1/tenants/{tenant}", tenantWr, "tenant.update", s.patchTenant)
	s.change("DELETE /v1/tenants/{tenant}", tenantWr, "tenant.delete", s.deleteTenant)

	s.change("POST /v1/tenants/{tenant}/keys", tenantWr, "key.create", s.createKey)
	s.handle("GET /v1/tenants/{tenant}/keys", tenantRd, s.listKeys)
	s.change("DELETE /v1/tenants/{tenant}/keys/{key_id}", tenantWr, "key.revoke", s.revokeKey)
	s.change("POST /v1/tenants/{tenant}/keys/{key_id}/rotate", tenantWr, "key.rotate", s.rotateKey)

	s.handle("GET /v1/tenants/{tenant}/signing-keys", tenantRd, s.listSigningKeys)
	s.change("POST /v1/tenants/{tenant}/signing-keys/rotate", tenantWr, "signing_key.rotate", s.rotateSigningKey)
	s.change("GET /v1/tenants/{tenant}/signing-keys/{id}/secret", tenantWr, "signing_key.secret_read", s.signingSecret)

	s.handle("GET /v1/audit", anyRead, s.listAudit)
	s.handle("GET /v1/audit/export", anyRead, s.exportAudit)
	s.handle("GET /v1/audit/verify", anyRead, s.verifyAudit)
}

func (s *Server) handle(pattern string, need access, h handlerFunc) {
	s.register(pattern, need, "", h)
}

// change registers a route that changes state or hands out a secret: an
// authenticated caller refused by it is recorded as a blocked attempt.
func (s *Server) change(pattern string, need access, action string, h handlerFunc) {
	s.register(pattern, need, action, h)
}

func (s *Server) register(pattern string, need access, action string, h handlerFunc) {
	s.mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := s.authorize(r, need)
		denied := err != nil
		if err == nil {
			err = h(w, r, c)
		}
		if err == nil {
			return
		}
		if action != "" && c != nil && refusal(err, denied) {
			s.recordBlocked(r, c, action, err)
		}
		s.fail(w, r, err)
	}))
}

// refusal reports whether err refused an authenticated caller: a 403, or the
// 404 authorize answers for another tenant's resources.
func refusal(err error, fromAuthorize bool) bool {
	var ae *apiError
	if !errors.As(err, &ae) {
		return false
	}
	return ae.status == http.StatusForbidden || (fromAuthorize && ae.status == http.StatusNotFound)
}

// recordBlocked writes the refused attempt to the caller's own chain (the
// platform chain for platform keys), so it never tells one tenant about
// another. A failure to record is logged: the refusal stands either way.
func (s *Server) recordBlocked(r *http.Request, c *caller, action string, refused error) {
	actor, actorType := c.actor()
	now := s.now()
	e := tollgate.AuditEvent{
		ID: audit.NewID(now), Time: now, Tenant: c.tenant, Actor: actor, ActorType: actorType,
		Action: action, Target: r.URL.Path, Outcome: tollgate.OutcomeBlocked, Reason: refused.Error(),
		Metadata: audit.SafeMetadata(map[string]any{"method": r.Method}),
	}
	if c.ip.IsValid() {
		e.ClientIP = c.ip.String()
	}
	if err := audit.Append(r.Context(), s.store.Audit(), e); err != nil {
		s.logger.Error("audit a refused control request", "action", action, "error", err)
	}
}

// serve renders the mux's own 404 and 405 answers as problem documents.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if _, pattern := s.mux.Handler(r); pattern == "" {
		rec := &headerRecorder{h: http.Header{}}
		s.mux.ServeHTTP(rec, r)
		if allow := rec.h.Get("Allow"); allow != "" {
			w.Header().Set("Allow", allow)
		}
		status := rec.status
		if status == 0 || status < 400 {
			status = http.StatusNotFound
		}
		detail := "no such route"
		if status == http.StatusMethodNotAllowed {
			detail = "method " + r.Method + " is not allowed on this route"
		}
		writeProblem(w, status, strings.ReplaceAll(strings.ToLower(http.StatusText(status)), " ", "-"), detail, nil)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// headerRecorder captures the status and headers of the mux's error answers.
type headerRecorder struct {
	h      http.Header
	status int
}

func (h *headerRecorder) Header() http.Header         { return h.h }
func (h *headerRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (h *headerRecorder) WriteHeader(code int)        { h.status = code }

// fail writes err as a problem; unexpected errors are logged and hidden.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		if ae.status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="tollgate"`)
		}
		writeProblem(w, ae.status, ae.kind, ae.detail, ae.fields)
	case errors.Is(err, tollgate.ErrNotFound):
		writeProblem(w, http.StatusNotFound, "not-found", "the resource does not exist", nil)
	case errors.Is(err, tollgate.ErrConflict):
		writeProblem(w, http.StatusConflict, "conflict", "the resource already exists", nil)
	default:
		s.logger.Error("control request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		writeProblem(w, http.StatusInternalServerError, "internal", "the server could not complete the request; see its log", nil)
	}
}

// clientAddr is the peer address; forwarding headers are not trusted.
func clientAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

// decode reads a JSON body strictly (1 MiB, unknown fields refused, one value)
// into v, which the caller may have pre-filled with defaults.
func decode(w http.ResponseWriter, r *http.Request, v any, types ...string) error {
	body, err := readBody(w, r, types...)
	if err != nil {
		return err
	}
	return decodeBytes(body, v)
}

// readBody checks the content type (when one is sent) and reads at most 1 MiB.
func readBody(w http.ResponseWriter, r *http.Request, types ...string) ([]byte, error) {
	if len(types) == 0 {
		types = []string{"application/json"}
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		ok := false
		for _, t := range types {
			ok = ok || (err == nil && mt == t)
		}
		if !ok {
			return nil, errf(http.StatusUnsupportedMediaType, "unsupported-media-type", "content type must be %s", strings.Join(types, " or "))
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errf(http.StatusRequestEntityTooLarge, "too-large", "request body exceeds %d bytes", maxBody)
		}
		return nil, badRequest("read request body: %v", err)
	}
	return body, nil
}

func decodeBytes(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return badRequest("request body is empty; send a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest("request body must hold exactly one JSON value")
	}
	return nil
}

// jsonError turns a decoding error into a problem, naming the field when it can.
func jsonError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		var v validationError
		v.add(te.Field, "must be %s, not %s", jsonKind(te.Type.Kind().String()), te.Value)
		return v.err()
	}
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		var v validationError
		v.add(strings.Trim(f, `"`), "unknown field")
		return v.err()
	}
	return badRequest("request body is not valid JSON for this route: %s", strings.TrimPrefix(msg, "json: "))
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	case "float32", "float64":
		return "a number"
	}
	if strings.HasPrefix(k, "int") || strings.HasPrefix(k, "uint") {
		return "an integer in range"
	}
	return "of type " + k
}

func (s *Server) reload(ctx context.Context) {
	if err := s.reg.Reload(ctx); err != nil {
		// The change is stored and audited; the registry's own watch and
		// safety reload will pick it up.
		s.logger.Error("identity reload after a control change", "error", err)
	}
}

func wrap(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}
