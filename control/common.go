package control

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/audit"
	"github.com/tollgate-dev/tollgate/control/client"
)

const (
	defaultLimit = 50
	maxLimit     = 500
	maxCursor    = 1024
)

// pageFrom reads limit (default 50, at most 500) and the opaque cursor.
func pageFrom(r *http.Request) (tollgate.Page, error) {
	q := r.URL.Query()
	p := tollgate.Page{Limit: defaultLimit, Cursor: q.Get("cursor")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			return p, badRequest("limit must be an integer from 1 to %d", maxLimit)
		}
		p.Limit = n
	}
	if len(p.Cursor) > maxCursor {
		return p, badRequest("cursor is not one this server issued")
	}
	return p, nil
}

// pageErr blames a bad cursor on the caller: stores reject cursors they did
// not issue, and with a cursor present that is the likely cause.
func pageErr(p tollgate.Page, err error, what string) error {
	if p.Cursor != "" && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return badRequest("cursor is not one this server issued (%s)", what)
	}
	return fmt.Errorf("%s: %w", what, err)
}

func list[T any](items []T, next string) client.List[T] {
	if items == nil {
		items = []T{}
	}
	return client.List[T]{Items: items, NextCursor: next}
}

// record writes one audit event durably; the change is acknowledged only
// after it returns nil. meta must never hold keys or secrets.
func (s *Server) record(ctx context.Context, c *caller, tenant, action, target string, meta map[string]any) error {
	actor, actorType := c.actor()
	now := s.now()
	e := tollgate.AuditEvent{
		ID:        audit.NewID(now),
		Time:      now,
		Tenant:    tenant,
		Actor:     actor,
		ActorType: actorType,
		Action:    action,
		Target:    target,
		Outcome:   tollgate.OutcomeSuccess,
		Metadata:  audit.SafeMetadata(meta),
	}
	if c.ip.IsValid() {
		e.ClientIP = c.ip.String()
	}
	if err := audit.Append(ctx, s.store.Audit(), e); err != nil {
		return fmt.Errorf("audit %s %s: %w", action, target, err)
	}
	return nil
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request, _ *caller) error {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
	return nil
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request, _ *caller) error {
	checks := map[string]string{}
	ok := true
	run := func(name string, fn func(context.Context) error) {
		if err := fn(r.Context()); err != nil {
			// The route is unauthenticated: the reason goes to the log, not
			// to whoever asks (it may name hosts, paths or DSNs).
			s.logger.Warn("readiness check failed", "check", name, "error", err)
			checks[name], ok = "unavailable", false
			return
		}
		checks[name] = "ok"
	}
	run("store", s.store.Ping)
	if s.opts.Ready != nil {
		run("backends", s.opts.Ready)
	}
	status, word := http.StatusOK, "ok"
	if !ok {
		status, word = http.StatusServiceUnavailable, "unavailable"
	}
	writeJSON(w, status, map[string]any{"status": word, "checks": checks})
	return nil
}

func (s *Server) metrics(w http.ResponseWriter, r *http.Request, _ *caller) error {
	if s.opts.Metrics == nil {
		return notFound("metrics")
	}
	s.opts.Metrics.ServeHTTP(w, r)
	return nil
}

func (s *Server) interceptCA(w http.ResponseWriter, _ *http.Request, _ *caller) error {
	var pem []byte
	if s.opts.CAPEM != nil {
		pem = s.opts.CAPEM()
	}
	if len(pem) == 0 {
		return notFound("intercept CA")
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	_, _ = w.Write(pem)
	return nil
}

func (s *Server) whoami(w http.ResponseWriter, _ *http.Request, c *caller) error {
	out := client.WhoAmI{Scopes: []tollgate.Scope{}}
	_, out.ActorType = c.actor()
	if c.p.Key != nil {
		out.KeyID, out.Tenant, out.Scopes = c.p.Key.ID, c.p.Key.Tenant, c.p.Key.Scopes
	} else {
		out.Scopes = []tollgate.Scope{tollgate.ScopeControlAdmin}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
