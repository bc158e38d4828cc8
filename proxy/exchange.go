package proxy

import (
	"context"
	"log/slog"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/tollgate-dev/tollgate"
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
	meta := auditMeta{
		RequestID: ex.id, Mode: ex.mode, Method: ex.method, Host: ex.target.Host, Port: ex.target.Port,
		VettedIP: vetted, Status: ex.status, BytesOut: ex.bytesOut, BytesIn: ex.bytesIn,
		DurationMS: float64(dur.Microseconds()) / 1000, Signed: ex.signed, Detail: ex.decision.Detail,
	}.appendJSON(make([]byte, 0, 256))
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
		Metadata:  meta,
	}
	if err := p.opts.Audit.Record(context.WithoutCancel(ctx), ev); err != nil {
		p.opts.Logger.LogAttrs(ctx, slog.LevelError, "audit record", slog.String("request_id", ex.id), slog.String("error", err.Error()))
	}
}

// auditMeta is the fixed metadata of a proxy decision event: never keys,
// headers or bodies.
type auditMeta struct {
	RequestID  string  `json:"request_id"`
	Mode       string  `json:"mode"`
	Method     string  `json:"method,omitempty"`
	Host       string  `json:"host,omitempty"`
	Port       uint16  `json:"port,omitempty"`
	VettedIP   string  `json:"vetted_ip,omitempty"`
	Status     int     `json:"status"`
	BytesOut   int64   `json:"bytes_out"`
	BytesIn    int64   `json:"bytes_in"`
	DurationMS float64 `json:"duration_ms"`
	Signed     bool    `json:"signed,omitempty"`
	Detail     string  `json:"detail,omitempty"`
}

// appendJSON encodes m as canonical JSON (keys sorted, compact, as the
// audit chain hashes it), without reflection: this runs once per request.
func (m auditMeta) appendJSON(b []byte) []byte {
	b = append(b, `{"bytes_in":`...)
	b = strconv.AppendInt(b, m.BytesIn, 10)
	b = append(b, `,"bytes_out":`...)
	b = strconv.AppendInt(b, m.BytesOut, 10)
	if m.Detail != "" {
		b = append(b, `,"detail":`...)
		b = appendJSONString(b, m.Detail)
	}
	b = append(b, `,"duration_ms":`...)
	b = strconv.AppendFloat(b, m.DurationMS, 'f', -1, 64)
	if m.Host != "" {
		b = append(b, `,"host":`...)
		b = appendJSONString(b, m.Host)
	}
	if m.Method != "" {
		b = append(b, `,"method":`...)
		b = appendJSONString(b, m.Method)
	}
	b = append(b, `,"mode":`...)
	b = appendJSONString(b, m.Mode)
	if m.Port != 0 {
		b = append(b, `,"port":`...)
		b = strconv.AppendUint(b, uint64(m.Port), 10)
	}
	b = append(b, `,"request_id":`...)
	b = appendJSONString(b, m.RequestID)
	if m.Signed {
		b = append(b, `,"signed":true`...)
	}
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(m.Status), 10)
	if m.VettedIP != "" {
		b = append(b, `,"vetted_ip":`...)
		b = appendJSONString(b, m.VettedIP)
	}
	return append(b, '}')
}

// appendJSONString quotes s for JSON as the audit canonical form does:
// quote, backslash and control characters escaped (short forms where JSON
// has them), everything else (UTF-8) as is.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c == '\b':
			b = append(b, '\\', 'b')
		case c == '\f':
			b = append(b, '\\', 'f')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
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
