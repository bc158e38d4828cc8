package proxy

import (
	"context"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/audit"
	"github.com/tollgate-dev/tollgate/policy"
)

// exchange mode labels for logs and metrics; "forward" is absolute-form http://.
const (
	modeTunnel    = "tunnel"
	modeIntercept = "intercept"
	modeForward   = "forward"
)

// exchange is one proxied request (or tunnel) from head to end. It carries
// what the canonical log line, the metrics and the audit event report.
type exchange struct {
	id       string
	start    time.Time
	client   netip.AddrPort
	mode     string
	method   string
	caller   Caller
	target   policy.Target
	vetted   netip.Addr
	decision tollgate.Decision
	status   int
	bytesOut int64 // client to upstream
	bytesIn  int64 // upstream to client
	signed   bool

	once sync.Once
}

func (p *Proxy) newExchange(remoteAddr, method, mode string) *exchange {
	ap, _ := netip.ParseAddrPort(remoteAddr)
	return &exchange{
		id:     "req_" + ulid.Make().String(),
		start:  p.opts.Now(),
		client: ap,
		mode:   mode,
		method: method,
	}
}

// targetString is host:port, or "" when the request never got as far as a target.
func (ex *exchange) targetString() string {
	if ex.target.Host == "" {
		return ""
	}
	return ex.target.String()
}

func (ex *exchange) refuse(d tollgate.Decision) {
	ex.decision = d
	ex.status = d.Reason.Status()
}

// finish writes the canonical log line, metrics and audit event, once.
func (p *Proxy) finish(ctx context.Context, ex *exchange) {
	ex.once.Do(func() { p.report(ctx, ex) })
}

func (p *Proxy) report(ctx context.Context, ex *exchange) {
	dur := p.opts.Now().Sub(ex.start)
	outcome, logLevel := "allowed", slog.LevelInfo
	switch {
	case ex.decision.Reason == tollgate.ReasonUpstreamError || ex.decision.Reason == tollgate.ReasonUpstreamTimeout ||
		ex.decision.Reason == tollgate.ReasonDNSError:
		outcome, logLevel = "error", slog.LevelWarn
	case ex.decision.Reason != tollgate.ReasonNone:
		outcome = "blocked"
	}
	tenant := ex.caller.Tenant
	if m := p.opts.Metrics; m != nil {
		label := tenant
		if label == "" {
			label = "-" // unauthenticated refusals: bounded cardinality
		}
		m.requests.WithLabelValues(label, ex.mode, outcome, string(ex.decision.Reason)).Inc()
		m.duration.WithLabelValues(ex.mode).Observe(dur.Seconds())
		m.bytesOut.Add(float64(ex.bytesOut))
		m.bytesIn.Add(float64(ex.bytesIn))
	}
	vetted := ""
	if ex.vetted.IsValid() {
		vetted = ex.vetted.String()
	}
	if p.opts.Logger.Enabled(ctx, logLevel) {
		p.logLine(ctx, logLevel, ex, outcome, vetted, dur)
	}
	p.audit(ctx, ex, outcome, vetted, dur)
}

// logLine is the canonical log line of one request.
func (p *Proxy) logLine(ctx context.Context, logLevel slog.Level, ex *exchange, outcome, vetted string, dur time.Duration) {
	p.opts.Logger.LogAttrs(ctx, logLevel, "request",
		slog.String("request_id", ex.id),
		slog.String("tenant", ex.caller.Tenant),
		slog.String("key_id", ex.caller.KeyID),
		slog.String("client", ex.client.Addr().String()),
		slog.String("mode", ex.mode),
		slog.String("method", ex.method),
		slog.String("target", ex.targetString()),
		slog.String("vetted_ip", vetted),
		slog.String("decision", outcome),
		slog.String("reason", string(ex.decision.Reason)),
		slog.String("detail", ex.decision.Detail),
		slog.Int("status", ex.status),
		slog.Bool("signed", ex.signed),
		slog.Int64("bytes_out", ex.bytesOut),
		slog.Int64("bytes_in", ex.bytesIn),
		slog.Duration("duration", dur),
	)
}

// audit records the decision in the tenant's audit chain.
func (p *Proxy) audit(ctx context.Context, ex *exchange, outcome, vetted string, dur time.Duration) {
	if p.opts.Audit == nil {
		return
	}
	auditOutcome := tollgate.OutcomeSuccess
	switch outcome {
	case "blocked":
		auditOutcome = tollgate.OutcomeBlocked
	case "error":
		auditOutcome = tollgate.OutcomeFailure
	}
	meta, err := auditMeta(ex, vetted, dur)
	if err != nil {
		p.opts.Logger.LogAttrs(ctx, slog.LevelError, "audit metadata", slog.String("request_id", ex.id), slog.String("error", err.Error()))
		return
	}
	actor, actorType := ex.caller.KeyID, tollgate.ActorKey
	if actor == "" {
		actor, actorType = "anonymous", tollgate.ActorSystem
	}
	target := ex.targetString()
	ev := tollgate.AuditEvent{
		Time:      ex.start,
		Tenant:    ex.caller.Tenant,
		Actor:     actor,
		ActorType: actorType,
		Action:    "proxy." + ex.mode,
		Target:    target,
		Outcome:   auditOutcome,
		Reason:    string(ex.decision.Reason),
		ClientIP:  ex.client.Addr().String(),
	}
	// The event shares the request's ULID, so a log line and its audit
	// event are found from either id (and no second random id is drawn).
	if strings.HasPrefix(ex.id, "req_") {
		ev.ID = "evt_" + ex.id[len("req_"):]
	}
	if err := p.opts.Audit.RecordMeta(context.WithoutCancel(ctx), ev, meta); err != nil {
		p.opts.Logger.LogAttrs(ctx, slog.LevelError, "audit record", slog.String("request_id", ex.id), slog.String("error", err.Error()))
	}
}

// auditMeta is the fixed metadata of a proxy decision event, never keys,
// headers or bodies; built in canonical key order without reflection or
// parsing, since this runs once per request.
func auditMeta(ex *exchange, vetted string, dur time.Duration) (audit.Meta, error) {
	m := audit.NewMetaBuilder(make([]byte, 0, 256))
	m.Int("bytes_in", ex.bytesIn)
	m.Int("bytes_out", ex.bytesOut)
	if ex.decision.Detail != "" {
		m.String("detail", ex.decision.Detail)
	}
	m.Float("duration_ms", float64(dur.Microseconds())/1000)
	if ex.target.Host != "" {
		m.String("host", ex.target.Host)
	}
	if ex.method != "" {
		m.String("method", ex.method)
	}
	m.String("mode", ex.mode)
	if ex.target.Port != 0 {
		m.Int("port", int64(ex.target.Port))
	}
	m.String("request_id", ex.id)
	if ex.signed {
		m.Bool("signed", true)
	}
	m.Int("status", int64(ex.status))
	if vetted != "" {
		m.String("vetted_ip", vetted)
	}
	return m.Done()
}

// retryAfterSeconds rounds a limiter's wait up to whole seconds, at least 1,
// since Retry-After carries integer seconds.
func retryAfterSeconds(d time.Duration) string {
	s := int64((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return strconv.FormatInt(s, 10)
}
