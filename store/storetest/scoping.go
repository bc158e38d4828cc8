package storetest

import (
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate"
)

// seedTwoTenants creates tenants a and b, each with a key and a signing
// key, plus a platform key.
func seedTwoTenants(t *testing.T, s tollgate.Store) {
	t.Helper()
	ctx, r := t.Context(), s.Admin()
	for _, id := range []string{"a", "b"} {
		mustNil(t, "create tenant "+id, r.CreateTenant(ctx, Tenant(id)))
		mustNil(t, "create key "+id, r.CreateKey(ctx, Key("key_"+id, id, "plain-"+id)))
		mustNil(t, "create signing key "+id, r.CreateSigningKey(ctx, SigningKey("sk_"+id, id, tollgate.SigningPrimary, Base)))
	}
	mustNil(t, "create platform key", r.CreateKey(ctx, Key("key_platform", "", "plain-platform")))
}

func testScoping(t *testing.T, s tollgate.Store) {
	seedTwoTenants(t, s)
	ctx, sa, admin := t.Context(), s.Scoped("a"), s.Admin()

	notFound := []struct {
		name string
		err  error
	}{
		{"get other tenant", second(sa.GetTenant(ctx, "b"))},
		{"update other tenant", sa.UpdateTenant(ctx, Tenant("b"))},
		{"delete other tenant", sa.DeleteTenant(ctx, "b", Base)},
		{"create other tenant", sa.CreateTenant(ctx, Tenant("c"))},
		{"create key for other tenant", sa.CreateKey(ctx, Key("key_b2", "b", "plain-b2"))},
		{"create platform key", sa.CreateKey(ctx, Key("key_p2", "", "plain-p2"))},
		{"get other key", second(sa.GetKey(ctx, "key_b"))},
		{"get platform key", second(sa.GetKey(ctx, "key_platform"))},
		{"update other key", sa.UpdateKey(ctx, Key("key_b", "b", "plain-b"))},
		{"update platform key", sa.UpdateKey(ctx, Key("key_platform", "", "plain-platform"))},
		{"create other signing key", sa.CreateSigningKey(ctx, SigningKey("sk_b2", "b", tollgate.SigningRetired, Base))},
		{"rotate other signing key", sa.RotateSigningKey(ctx, "b", SigningKey("sk_b3", "b", "", Base), Base)},
	}
	for _, tt := range notFound {
		t.Run(tt.name, func(t *testing.T) { mustIs(t, tt.name, tt.err, tollgate.ErrNotFound) })
	}

	t.Run("own rows visible", func(t *testing.T) {
		got, err := sa.GetTenant(ctx, "a")
		mustNil(t, "get own tenant", err)
		mustEqual(t, "own tenant", got.ID, "a")
		ts, _, err := sa.ListTenants(ctx, tollgate.Page{})
		mustNil(t, "list tenants", err)
		mustEqual(t, "tenants", tenantIDs(ts), []string{"a"})
		ks, _, err := sa.ListKeys(ctx, "a", tollgate.Page{})
		mustNil(t, "list own keys", err)
		mustEqual(t, "own keys", keyIDs(ks), []string{"key_a"})
		all, err := sa.AllKeys(ctx)
		mustNil(t, "all keys", err)
		mustEqual(t, "all keys", keyIDs(all), []string{"key_a"})
		sks, err := sa.ListSigningKeys(ctx, "a")
		mustNil(t, "own signing keys", err)
		mustEqual(t, "own signing keys", len(sks), 1)
	})

	t.Run("other rows empty", func(t *testing.T) {
		for _, tenant := range []string{"b", ""} {
			ks, next, err := sa.ListKeys(ctx, tenant, tollgate.Page{})
			mustNil(t, "list keys", err)
			mustEqual(t, "keys of "+tenant, keyIDs(ks), []string{})
			mustEqual(t, "next", next, "")
			sks, err := sa.ListSigningKeys(ctx, tenant)
			mustNil(t, "list signing keys", err)
			mustEqual(t, "signing keys of "+tenant, len(sks), 0)
		}
	})

	t.Run("writes stay in scope", func(t *testing.T) {
		mustNil(t, "touch", sa.TouchKeys(ctx, map[string]time.Time{"key_a": Base, "key_b": Base, "key_platform": Base}))
		for id, touched := range map[string]bool{"key_a": true, "key_b": false, "key_platform": false} {
			k, err := admin.GetKey(ctx, id)
			mustNil(t, "get "+id, err)
			if (k.LastUsedAt != nil) != touched {
				t.Errorf("%s touched = %v, want %v", id, k.LastUsedAt != nil, touched)
			}
		}
		b, err := admin.GetTenant(ctx, "b")
		mustNil(t, "b still exists", err)
		mustEqual(t, "b unchanged", b, Tenant("b"))
		sks, err := admin.ListSigningKeys(ctx, "b")
		mustNil(t, "b signing keys", err)
		mustEqual(t, "b signing keys untouched", len(sks), 1)

		own := Tenant("a")
		own.Name = "renamed by a"
		mustNil(t, "update own tenant", sa.UpdateTenant(ctx, own))
		mustNil(t, "create own key", sa.CreateKey(ctx, Key("key_a2", "a", "plain-a2")))
		mustNil(t, "rotate own signing key", sa.RotateSigningKey(ctx, "a", SigningKey("sk_a2", "a", "", Base.Add(time.Hour)), Base.Add(time.Hour)))
		ks, err := admin.AllKeys(ctx)
		mustNil(t, "admin all keys", err)
		mustEqual(t, "admin sees every key", keyIDs(ks), []string{"key_a", "key_a2", "key_b", "key_platform"})
		ts, _, err := admin.ListTenants(ctx, tollgate.Page{})
		mustNil(t, "admin tenants", err)
		mustEqual(t, "admin sees every tenant", tenantIDs(ts), []string{"a", "b"})
	})
}

// testScopedEmpty pins that Scoped("") is not a back door to platform keys.
func testScopedEmpty(t *testing.T, s tollgate.Store) {
	seedTwoTenants(t, s)
	ctx, se := t.Context(), s.Scoped("")
	ts, _, err := se.ListTenants(ctx, tollgate.Page{})
	mustNil(t, "list tenants", err)
	mustEqual(t, "tenants", tenantIDs(ts), []string{})
	ks, err := se.AllKeys(ctx)
	mustNil(t, "all keys", err)
	mustEqual(t, "keys", keyIDs(ks), []string{})
	ks, _, err = se.ListKeys(ctx, "", tollgate.Page{})
	mustNil(t, "platform keys", err)
	mustEqual(t, "platform keys", keyIDs(ks), []string{})
	_, err = se.GetKey(ctx, "key_platform")
	mustIs(t, "get platform key", err, tollgate.ErrNotFound)
	mustIs(t, "create platform key", se.CreateKey(ctx, Key("key_p9", "", "plain-p9")), tollgate.ErrNotFound)
}
