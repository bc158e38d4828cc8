package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/control/client"
)

func runAudit(ctx context.Context, r *runner, args []string) error {
	return group(ctx, r, "audit", args, map[string]func(context.Context, *runner, []string) error{
		"list":   auditList,
		"export": auditExport,
		"verify": auditVerify,
	})
}

// parseWhen accepts an RFC 3339 time or a duration meaning "that long ago".
func parseWhen(flagName, s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, usagef("invalid --%s %q: use an RFC 3339 time (2026-01-02T15:04:05Z) or a duration ago (24h)", flagName, s)
}

func auditList(ctx context.Context, r *runner, args []string) error {
	fs := r.flags("audit list", "", "Lists audit events, newest page first as the server orders them.")
	var f client.AuditFilter
	fs.StringVar(&f.Tenant, "tenant", "", "only this tenant's events (default: your tenant, or every chain for admins)")
	fs.StringVar(&f.Action, "action", "", "only this action, e.g. tenant.create, key.revoke or proxy.tunnel (proxy.intercept, proxy.forward)")
	outcome := fs.String("outcome", "", "success | failure | blocked")
	since := fs.String("since", "", "events at or after this RFC 3339 time, or this long ago (24h)")
	until := fs.String("until", "", "events before this RFC 3339 time, or this long ago")
	fs.IntVar(&f.Limit, "limit", 0, "page size (0 = server default)")
	fs.StringVar(&f.Cursor, "cursor", "", "cursor of the page to show, from a previous list")
	if _, err := fs.parse(args, 0); err != nil {
		return err
	}
	switch o := tollgate.Outcome(*outcome); o {
	case "", tollgate.OutcomeSuccess, tollgate.OutcomeFailure, tollgate.OutcomeBlocked:
		f.Outcome = o
	default:
		return usagef("invalid --outcome %q: use success, failure or blocked", *outcome)
	}
	now := r.now()
	var err error
	if f.Since, err = parseWhen("since", *since, now); err != nil {
		return err
	}
	if f.Until, err = parseWhen("until", *until, now); err != nil {
		return err
	}
	if f.Limit < 0 {
		return usagef("--limit must not be negative")
	}
	c, base, err := r.client()
	if err != nil {
		return err
	}
	page, err := c.ListAudit(ctx, f)
	if err != nil {
		return apiError(base, err)
	}
	if fs.json {
		return r.printJSON(page)
	}
	t := newTable(r.stdout, "TIME", "TENANT", "ACTOR", "ACTION", "TARGET", "OUTCOME", "REASON", "ID")
	for _, e := range page.Items {
		actor := string(e.ActorType)
		if e.Actor != "" && e.Actor != actor {
			actor += ":" + e.Actor
		}
		t.row(fmtTime(e.Time), orDash(e.Tenant, "(platform)"), actor, e.Action, e.Target, string(e.Outcome), e.Reason, e.ID)
	}
	if err := t.flush(); err != nil {
		return err
	}
	r.moreHint("audit list", page.NextCursor)
	return nil
}

func auditExport(ctx context.Context, r *runner, args []string) error {
	fs := r.flags("audit export", "", "Writes a whole audit chain to stdout as NDJSON (one event per line).")
	tenant := fs.String("tenant", "", "the tenant's chain (default: your tenant, or the platform chain for admins)")
	if _, err := fs.parse(args, 0); err != nil {
		return err
	}
	c, base, err := r.client()
	if err != nil {
		return err
	}
	if err := c.ExportAudit(ctx, *tenant, r.stdout); err != nil {
		return apiError(base, err)
	}
	return nil
}

func auditVerify(ctx context.Context, r *runner, args []string) error {
	fs := r.flags("audit verify", "", "Has the server recompute an audit chain; exit 1 if it is broken.")
	tenant := fs.String("tenant", "", "the tenant's chain (default: your tenant, or the platform chain for admins)")
	if _, err := fs.parse(args, 0); err != nil {
		return err
	}
	c, base, err := r.client()
	if err != nil {
		return err
	}
	res, err := c.VerifyAudit(ctx, *tenant)
	if err != nil {
		return apiError(base, err)
	}
	if fs.json {
		if err := r.printJSON(res); err != nil {
			return err
		}
	} else if res.OK {
		fmt.Fprintf(r.stdout, "ok: %d events, head %s\n", res.Events, orDash(res.Head, "(empty chain)"))
	} else {
		fmt.Fprintf(r.stdout, "broken: first bad event %s (%d events checked)\n", orDash(res.FirstBad, "(unknown)"), res.Events)
	}
	if !res.OK {
		return &exitError{code: ExitFailure}
	}
	return nil
}
