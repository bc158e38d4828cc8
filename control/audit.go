package control

import (
	"bufio"
	"encoding/json"
	"net/http"
	"time"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/audit"
)

// auditChain resolves the tenant= parameter to the one chain the caller may
// read. Tenant keys get their own tenant by default and a 404 for any other;
// admins get the named chain, or def when none is named.
func auditChain(r *http.Request, c *caller) (tenant string, named bool, err error) {
	q := r.URL.Query()
	tenant, named = q.Get("tenant"), q.Has("tenant")
	if c.admin {
		return tenant, named && tenant != "", nil
	}
	if named && tenant != c.tenant {
		return "", false, notFound("tenant " + quote(tenant))
	}
	return c.tenant, true, nil
}

func (s *Server) listAudit(w http.ResponseWriter, r *http.Request, c *caller) error {
	tenant, named, err := auditChain(r, c)
	if err != nil {
		return err
	}
	p, err := pageFrom(r)
	if err != nil {
		return err
	}
	q := tollgate.AuditQuery{Action: r.URL.Query().Get("action"), Page: p}
	if named {
		q.Tenant = &tenant
	}
	var v validationError
	switch o := tollgate.Outcome(r.URL.Query().Get("outcome")); o {
	case "", tollgate.OutcomeSuccess, tollgate.OutcomeFailure, tollgate.OutcomeBlocked:
		q.Outcome = o
	default:
		v.add("outcome", "must be success, failure or blocked")
	}
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"since", &q.Since}, {"until", &q.Until}} {
		if raw := r.URL.Query().Get(f.name); raw != "" {
			t, err := time.Parse(time.RFC3339Nano, raw)
			if err != nil {
				v.add(f.name, "must be an RFC 3339 time such as 2026-01-02T15:04:05Z")
			}
			*f.dst = t
		}
	}
	if err := v.err(); err != nil {
		return err
	}
	events, next, err := s.store.Audit().ListAudit(r.Context(), q)
	if err != nil {
		return pageErr(p, err, "list audit")
	}
	writeJSON(w, http.StatusOK, list(events, next))
	return nil
}

// exportAudit streams one chain as NDJSON. Once the first line is out an
// error can only cut the stream short; the log says why.
func (s *Server) exportAudit(w http.ResponseWriter, r *http.Request, c *caller) error {
	tenant, _, err := auditChain(r, c)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	bw := bufio.NewWriterSize(w, 32<<10)
	enc := json.NewEncoder(bw)
	started := false
	err = s.store.Audit().ScanAudit(r.Context(), tenant, func(e tollgate.AuditEvent) error {
		if !started {
			w.WriteHeader(http.StatusOK)
			started = true
		}
		return enc.Encode(e)
	})
	if err != nil {
		if !started {
			w.Header().Del("Content-Type")
			return wrap(err, "export audit of %q", tenant)
		}
		s.logger.Error("audit export cut short", "tenant", tenant, "error", err)
	}
	if err := bw.Flush(); err != nil {
		s.logger.Warn("audit export not delivered", "tenant", tenant, "error", err)
	}
	return nil
}

func (s *Server) verifyAudit(w http.ResponseWriter, r *http.Request, c *caller) error {
	tenant, _, err := auditChain(r, c)
	if err != nil {
		return err
	}
	res, err := audit.VerifyChain(r.Context(), s.store.Audit(), tenant)
	if err != nil {
		return wrap(err, "verify audit of %q", tenant)
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}
