package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate"
)

func testKeyRoundTrip(t *testing.T, s tollgate.Store) {
	ctx, r := t.Context(), s.Admin()
	mustNil(t, "create tenant", r.CreateTenant(ctx, Tenant("acme")))

	full := Key("key_full", "acme", "plain-full")
	last, rev := Base.Add(time.Minute), Base.Add(2*time.Minute)
	full.LastUsedAt, full.RevokedAt, full.Status = &last, &rev, tollgate.KeyRevoked
	bare := Key("key_bare", "", "plain-bare")
	bare.Scopes, bare.AllowedIPs, bare.ExpiresAt = []tollgate.Scope{tollgate.ScopeControlAdmin}, nil, nil
	for _, k := range []tollgate.APIKey{full, bare} {
		mustNil(t, "create "+k.ID, r.CreateKey(ctx, k))
		got, err := r.GetKey(ctx, k.ID)
		mustNil(t, "get "+k.ID, err)
		mustEqual(t, "round trip "+k.ID, got, k)
	}

	dupHash := Key("key_other", "acme", "plain-full")
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"duplicate id", r.CreateKey(ctx, Key("key_full", "acme", "plain-new")), tollgate.ErrConflict},
		{"duplicate hash", r.CreateKey(ctx, dupHash), tollgate.ErrConflict},
		{"missing tenant", r.CreateKey(ctx, Key("key_orphan", "nope", "plain-orphan")), tollgate.ErrNotFound},
		{"get missing", second(r.GetKey(ctx, "key_nope")), tollgate.ErrNotFound},
		{"update missing", r.UpdateKey(ctx, Key("key_nope", "acme", "x")), tollgate.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { mustIs(t, tt.name, tt.err, tt.want) })
	}
	if err := r.CreateKey(ctx, tollgate.APIKey{ID: "key_nohash", Tenant: "acme"}); err == nil {
		t.Error("CreateKey accepted a key without a hash")
	}

	up := Key("key_bare", "acme", "plain-changed") // tenant and hash are not updatable
	exp, revoked := Base.Add(time.Hour), Base.Add(3*time.Hour)
	up.Status, up.ExpiresAt, up.RevokedAt = tollgate.KeyRevoked, &exp, &revoked
	up.Description, up.Scopes = "rotated", []tollgate.Scope{tollgate.ScopeProxyAnyTenant}
	up.CreatedAt = Base.Add(time.Hour)
	mustNil(t, "update", r.UpdateKey(ctx, up))
	got, err := r.GetKey(ctx, "key_bare")
	mustNil(t, "get updated", err)
	want := bare
	want.Status, want.ExpiresAt, want.RevokedAt, want.Description, want.Scopes, want.AllowedIPs =
		up.Status, up.ExpiresAt, up.RevokedAt, up.Description, up.Scopes, up.AllowedIPs
	mustEqual(t, "after update", got, want)
	if !bytes.Equal(got.Hash, bare.Hash) {
		t.Fatal("UpdateKey changed the hash")
	}
}

func testKeyLists(t *testing.T, s tollgate.Store) {
	ctx, r := t.Context(), s.Admin()
	mustNil(t, "create a", r.CreateTenant(ctx, Tenant("a")))
	mustNil(t, "create b", r.CreateTenant(ctx, Tenant("b")))
	for _, k := range []tollgate.APIKey{
		Key("key_a3", "a", "p-a3"), Key("key_a1", "a", "p-a1"), Key("key_a2", "a", "p-a2"),
		Key("key_b1", "b", "p-b1"), Key("key_p1", "", "p-p1"), Key("key_p2", "", "p-p2"),
	} {
		mustNil(t, "create "+k.ID, r.CreateKey(ctx, k))
	}
	tests := []struct {
		tenant string
		limit  int
		pages  [][]string
	}{
		{"a", 0, [][]string{{"key_a1", "key_a2", "key_a3"}}},
		{"a", 2, [][]string{{"key_a1", "key_a2"}, {"key_a3"}}},
		{"a", 3, [][]string{{"key_a1", "key_a2", "key_a3"}}},
		{"b", 0, [][]string{{"key_b1"}}},
		{"", 1, [][]string{{"key_p1"}, {"key_p2"}}},
		{"nope", 5, [][]string{{}}},
	}
	for _, tt := range tests {
		t.Run("tenant_"+tt.tenant, func(t *testing.T) {
			var got [][]string
			cursor := ""
			for i := 0; i < 10; i++ {
				page, next, err := r.ListKeys(ctx, tt.tenant, tollgate.Page{Limit: tt.limit, Cursor: cursor})
				mustNil(t, "list", err)
				got = append(got, keyIDs(page))
				if next == "" {
					break
				}
				cursor = next
			}
			mustEqual(t, "pages", got, tt.pages)
		})
	}
	all, err := r.AllKeys(ctx)
	mustNil(t, "all keys", err)
	mustEqual(t, "all keys", keyIDs(all), []string{"key_a1", "key_a2", "key_a3", "key_b1", "key_p1", "key_p2"})
	if _, _, err := r.ListKeys(ctx, "a", tollgate.Page{Limit: 1, Cursor: "!!"}); err == nil {
		t.Error("ListKeys accepted a garbage cursor")
	}
}

func keyIDs(ks []tollgate.APIKey) []string {
	out := []string{}
	for _, k := range ks {
		out = append(out, k.ID)
	}
	return out
}

func testTouchKeys(t *testing.T, s tollgate.Store) {
	ctx, r := t.Context(), s.Admin()
	mustNil(t, "create tenant", r.CreateTenant(ctx, Tenant("a")))
	for _, id := range []string{"key_1", "key_2", "key_3"} {
		mustNil(t, "create "+id, r.CreateKey(ctx, Key(id, "a", "p-"+id)))
	}
	mustNil(t, "create platform", r.CreateKey(ctx, Key("key_p", "", "p-platform")))
	t1, t2, t0 := Base.Add(time.Hour), Base.Add(2*time.Hour), Base.Add(30*time.Minute)

	steps := []struct {
		name  string
		touch map[string]time.Time
		want  map[string]*time.Time
	}{
		{"first touch", map[string]time.Time{"key_1": t1, "key_2": t1, "key_p": t1, "key_unknown": t1},
			map[string]*time.Time{"key_1": &t1, "key_2": &t1, "key_3": nil, "key_p": &t1}},
		{"forward and backward", map[string]time.Time{"key_1": t2, "key_2": t0},
			map[string]*time.Time{"key_1": &t2, "key_2": &t1, "key_3": nil, "key_p": &t1}},
		{"same time again", map[string]time.Time{"key_1": t2},
			map[string]*time.Time{"key_1": &t2, "key_2": &t1, "key_3": nil, "key_p": &t1}},
		{"empty batch", map[string]time.Time{},
			map[string]*time.Time{"key_1": &t2, "key_2": &t1, "key_3": nil, "key_p": &t1}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			mustNil(t, "touch", r.TouchKeys(ctx, st.touch))
			for id, want := range st.want {
				k, err := r.GetKey(ctx, id)
				mustNil(t, "get "+id, err)
				mustEqual(t, id+" last_used_at", k.LastUsedAt, want)
			}
		})
	}
}

func testSigningKeys(t *testing.T, s tollgate.Store) {
	ctx, r := t.Context(), s.Admin()
	mustNil(t, "create tenant", r.CreateTenant(ctx, Tenant("a")))
	first := SigningKey("sk_1", "a", tollgate.SigningPrimary, Base)
	mustNil(t, "create", r.CreateSigningKey(ctx, first))
	ks, err := r.ListSigningKeys(ctx, "a")
	mustNil(t, "list", err)
	mustEqual(t, "one key", ks, []tollgate.SigningKey{first})

	tests := []struct {
		name string
		err  error
		want error
	}{
		{"second primary", r.CreateSigningKey(ctx, SigningKey("sk_x", "a", tollgate.SigningPrimary, Base)), tollgate.ErrConflict},
		{"duplicate id", r.CreateSigningKey(ctx, SigningKey("sk_1", "a", tollgate.SigningRetired, Base)), tollgate.ErrConflict},
		{"missing tenant", r.CreateSigningKey(ctx, SigningKey("sk_y", "nope", tollgate.SigningPrimary, Base)), tollgate.ErrNotFound},
		{"rotate missing tenant", r.RotateSigningKey(ctx, "nope", SigningKey("sk_z", "nope", tollgate.SigningPrimary, Base), Base), tollgate.ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { mustIs(t, tt.name, tt.err, tt.want) })
	}

	grace1, grace2 := Base.Add(24*time.Hour), Base.Add(48*time.Hour)
	second := SigningKey("sk_2", "a", tollgate.SigningGrace, Base.Add(time.Hour)) // status is forced to primary
	mustNil(t, "rotate 1", r.RotateSigningKey(ctx, "a", second, grace1))
	third := SigningKey("sk_3", "", "", Base.Add(2*time.Hour)) // tenant defaults to the rotated one
	mustNil(t, "rotate 2", r.RotateSigningKey(ctx, "a", third, grace2))

	ks, err = r.ListSigningKeys(ctx, "a")
	mustNil(t, "list after rotation", err)
	second.Status, third.Status, third.Tenant = tollgate.SigningPrimary, tollgate.SigningPrimary, "a"
	want := []tollgate.SigningKey{third, second, first}
	want[1].Status, want[1].GraceUntil = tollgate.SigningGrace, &grace2
	want[2].Status, want[2].GraceUntil = tollgate.SigningGrace, &grace1
	mustEqual(t, "after rotation, newest first", ks, want)
	if err := r.RotateSigningKey(ctx, "a", SigningKey("sk_4", "b", "", Base), grace2); err == nil {
		t.Error("RotateSigningKey accepted a key of another tenant")
	}

	// A rotation with a shorter grace (0 after a leak) cuts every older key's grace.
	cut := Base.Add(12 * time.Hour)
	mustNil(t, "rotate with a shorter grace", r.RotateSigningKey(ctx, "a", SigningKey("sk_5", "a", "", Base.Add(3*time.Hour)), cut))
	ks, err = r.ListSigningKeys(ctx, "a")
	mustNil(t, "list after the cut", err)
	graces := 0
	for _, k := range ks {
		if k.Status != tollgate.SigningGrace {
			continue
		}
		graces++
		if k.GraceUntil == nil || k.GraceUntil.After(cut) {
			t.Errorf("key %s keeps signing until %v, past the new grace %v", k.ID, k.GraceUntil, cut)
		}
	}
	if graces != 3 {
		t.Errorf("want 3 keys in grace after the cut, got %d", graces)
	}
}
