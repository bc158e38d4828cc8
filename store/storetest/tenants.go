package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate"
)

func testTenantRoundTrip(t *testing.T, s tollgate.Store) {
	ctx, r := t.Context(), s.Admin()
	in := Tenant("acme")
	mustNil(t, "create", r.CreateTenant(ctx, in))
	got, err := r.GetTenant(ctx, "acme")
	mustNil(t, "get", err)
	mustEqual(t, "round trip", got, in)

	nilSlices := Tenant("bare")
	nilSlices.Policy = tollgate.Policy{}
	nilSlices.CreatedAt, nilSlices.UpdatedAt = time.Time{}, time.Time{}
	mustNil(t, "create bare", r.CreateTenant(ctx, nilSlices))
	got, err = r.GetTenant(ctx, "bare")
	mustNil(t, "get bare", err)
	mustEqual(t, "bare round trip", got, nilSlices)

	tests := []struct {
		name string
		err  error
		want error
	}{
		{"create existing", r.CreateTenant(ctx, Tenant("acme")), tollgate.ErrConflict},
		{"get missing", second(r.GetTenant(ctx, "nope")), tollgate.ErrNotFound},
		{"update missing", r.UpdateTenant(ctx, Tenant("nope")), tollgate.ErrNotFound},
		{"delete missing", r.DeleteTenant(ctx, "nope", Base), tollgate.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { mustIs(t, tt.name, tt.err, tt.want) })
	}
	for _, id := range []string{"", "UPPER", "-lead", "has space"} {
		if err := r.CreateTenant(ctx, Tenant(id)); err == nil {
			t.Errorf("CreateTenant(%q) accepted an invalid id", id)
		}
	}

	up := in
	up.Name, up.Status, up.Mode, up.Sign, up.SigningScope = "Acme 2", tollgate.TenantSuspended, tollgate.ModeTunnel, false, tollgate.SigningScopeTenant
	up.Policy.AllowedHosts = nil
	up.Policy.AllowPlainHTTP = true
	up.Quotas.Burst = 99
	up.Declarative = true
	up.UpdatedAt = Base.Add(time.Hour)
	up.CreatedAt = Base.Add(-time.Hour) // ignored: creation time is fixed at create
	mustNil(t, "update", r.UpdateTenant(ctx, up))
	got, err = r.GetTenant(ctx, "acme")
	mustNil(t, "get after update", err)
	up.CreatedAt = in.CreatedAt
	mustEqual(t, "after update", got, up)
}

func second[T any](_ T, err error) error { return err }

func testTenantPagination(t *testing.T, s tollgate.Store) {
	ctx, r := t.Context(), s.Admin()
	ids := []string{"t5", "t1", "t7", "t3", "t2", "t6", "t4"}
	for _, id := range ids {
		mustNil(t, "create "+id, r.CreateTenant(ctx, Tenant(id)))
	}
	all, next, err := r.ListTenants(ctx, tollgate.Page{})
	mustNil(t, "list all", err)
	mustEqual(t, "all ids", tenantIDs(all), []string{"t1", "t2", "t3", "t4", "t5", "t6", "t7"})
	mustEqual(t, "next after all", next, "")

	tests := []struct {
		limit int
		pages [][]string
	}{
		{3, [][]string{{"t1", "t2", "t3"}, {"t4", "t5", "t6"}, {"t7"}}},
		{7, [][]string{{"t1", "t2", "t3", "t4", "t5", "t6", "t7"}}},
		{1, [][]string{{"t1"}, {"t2"}, {"t3"}, {"t4"}, {"t5"}, {"t6"}, {"t7"}}},
		{100, [][]string{{"t1", "t2", "t3", "t4", "t5", "t6", "t7"}}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("limit%d", tt.limit), func(t *testing.T) {
			var got [][]string
			cursor := ""
			for i := 0; i < 20; i++ {
				page, next, err := r.ListTenants(ctx, tollgate.Page{Limit: tt.limit, Cursor: cursor})
				mustNil(t, "list", err)
				got = append(got, tenantIDs(page))
				if next == "" {
					break
				}
				cursor = next
			}
			mustEqual(t, "pages", got, tt.pages)
		})
	}
	keysCursor := ""
	mustNil(t, "create key", r.CreateKey(ctx, Key("key_a", "t1", "p-a")))
	mustNil(t, "create key", r.CreateKey(ctx, Key("key_b", "t1", "p-b")))
	_, keysCursor, err = r.ListKeys(ctx, "t1", tollgate.Page{Limit: 1})
	mustNil(t, "list keys", err)
	for _, bad := range []string{"garbage!", "dGVuYW50cw", keysCursor} {
		if _, _, err := r.ListTenants(ctx, tollgate.Page{Limit: 2, Cursor: bad}); err == nil {
			t.Errorf("ListTenants accepted cursor %q", bad)
		}
	}
}

func tenantIDs(ts []tollgate.Tenant) []string {
	out := []string{}
	for _, t := range ts {
		out = append(out, t.ID)
	}
	return out
}

func testDeleteTenant(t *testing.T, s tollgate.Store) {
	ctx, r := t.Context(), s.Admin()
	for _, id := range []string{"gone", "stays"} {
		mustNil(t, "create tenant", r.CreateTenant(ctx, Tenant(id)))
		mustNil(t, "create signing key", r.CreateSigningKey(ctx, SigningKey("sk_"+id, id, tollgate.SigningPrimary, Base)))
		mustNil(t, "create key", r.CreateKey(ctx, Key("key_"+id, id, "plain-"+id)))
	}
	earlier := Base.Add(time.Minute)
	old := Key("key_gone_old", "gone", "plain-old")
	old.Status, old.RevokedAt = tollgate.KeyRevoked, &earlier
	mustNil(t, "create revoked key", r.CreateKey(ctx, old))
	mustNil(t, "create platform key", r.CreateKey(ctx, Key("key_platform", "", "plain-platform")))
	mustNil(t, "append audit", s.Audit().AppendAudit(ctx, []tollgate.AuditEvent{Event("ev1", "gone", Base)}, Seal))

	at := Base.Add(time.Hour)
	mustNil(t, "delete", r.DeleteTenant(ctx, "gone", at))

	_, err := r.GetTenant(ctx, "gone")
	mustIs(t, "get deleted", err, tollgate.ErrNotFound)
	sks, err := r.ListSigningKeys(ctx, "gone")
	mustNil(t, "list signing keys", err)
	mustEqual(t, "signing keys left", len(sks), 0)

	tests := []struct {
		id        string
		status    tollgate.KeyStatus
		revokedAt *time.Time
	}{
		{"key_gone", tollgate.KeyRevoked, &at},
		{"key_gone_old", tollgate.KeyRevoked, &earlier},
		{"key_stays", tollgate.KeyActive, nil},
		{"key_platform", tollgate.KeyActive, nil},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			k, err := r.GetKey(ctx, tt.id)
			mustNil(t, "get key", err)
			mustEqual(t, "status", k.Status, tt.status)
			mustEqual(t, "revoked_at", k.RevokedAt, tt.revokedAt)
		})
	}
	sks, err = r.ListSigningKeys(ctx, "stays")
	mustNil(t, "list other signing keys", err)
	mustEqual(t, "other signing keys", len(sks), 1)
	events := VerifyStored(t, s.Audit(), "gone")
	mustEqual(t, "audit kept", len(events), 1)

	// The id can be reused; the old revoked keys stay revoked.
	mustNil(t, "recreate", r.CreateTenant(ctx, Tenant("gone")))
	k, err := r.GetKey(ctx, "key_gone")
	mustNil(t, "get key after recreate", err)
	mustEqual(t, "still revoked", k.Status, tollgate.KeyRevoked)
}
