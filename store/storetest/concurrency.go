package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate"
)

// WatchWithin is how long a change may take to reach a watcher (SPEC §7:
// every replica within 2 seconds).
const WatchWithin = 2 * time.Second

// StartWatch runs s.Watch in a goroutine and returns a channel that
// receives one value per notify call. It waits for the initial notify, so
// the watcher is listening when it returns; the watch ends with the test.
func StartWatch(t *testing.T, s tollgate.Store) <-chan struct{} {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan struct{}, 64)
	done := make(chan error, 1)
	go func() {
		done <- s.Watch(ctx, func() {
			select {
			case ch <- struct{}{}:
			default:
			}
		})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Watch returned %v after cancel", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Watch did not return after its context ended")
		}
	})
	WaitNotify(t, ch, "initial notify")
	return ch
}

// WaitNotify fails the test unless ch receives within WatchWithin.
func WaitNotify(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(WatchWithin):
		t.Fatalf("%s: no notify within %v", what, WatchWithin)
	}
}

// Drain empties ch, for a test that is about to expect a fresh notify.
func Drain(ch <-chan struct{}) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

func testWatch(t *testing.T, s tollgate.Store) {
	ctx, r := t.Context(), s.Admin()
	ch := StartWatch(t, s)
	steps := []struct {
		name  string
		write func() error
	}{
		{"create tenant", func() error { return r.CreateTenant(ctx, Tenant("w")) }},
		{"update tenant", func() error { return r.UpdateTenant(ctx, Tenant("w")) }},
		{"create key", func() error { return r.CreateKey(ctx, Key("key_w", "w", "plain-w")) }},
		{"update key", func() error { return r.UpdateKey(ctx, Key("key_w", "w", "plain-w")) }},
		{"create signing key", func() error {
			return r.CreateSigningKey(ctx, SigningKey("sk_w", "w", tollgate.SigningPrimary, Base))
		}},
		{"rotate signing key", func() error {
			return s.Scoped("w").RotateSigningKey(ctx, "w", SigningKey("sk_w2", "w", "", Base), Base)
		}},
		{"delete tenant", func() error { return r.DeleteTenant(ctx, "w", Base) }},
	}
	for _, st := range steps {
		Drain(ch)
		mustNil(t, st.name, st.write())
		WaitNotify(t, ch, st.name)
	}
}

// testConcurrentWriters has 8 goroutines create tenants and keys and append
// audit events to their own chain and to two shared chains at once.
func testConcurrentWriters(t *testing.T, s tollgate.Store) {
	const (
		workers = 8
		rounds  = 10
	)
	ctx := t.Context()
	mustNil(t, "create shared tenant", s.Admin().CreateTenant(ctx, Tenant("shared")))
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- runWriter(ctx, s, w, rounds)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		mustNil(t, "writer", err)
	}
	ts, _, err := s.Admin().ListTenants(ctx, tollgate.Page{})
	mustNil(t, "list tenants", err)
	mustEqual(t, "tenants", len(ts), workers+1)
	ks, err := s.Admin().AllKeys(ctx)
	mustNil(t, "all keys", err)
	mustEqual(t, "keys", len(ks), workers*rounds)
	for w := range workers {
		mustEqual(t, "own chain length", len(VerifyStored(t, s.Audit(), fmt.Sprintf("w%d", w))), rounds)
	}
	mustEqual(t, "shared chain length", len(VerifyStored(t, s.Audit(), "shared")), workers*rounds*2)
	mustEqual(t, "platform chain length", len(VerifyStored(t, s.Audit(), "")), workers*rounds)
}

func runWriter(ctx context.Context, s tollgate.Store, w, rounds int) error {
	id := fmt.Sprintf("w%d", w)
	if err := s.Admin().CreateTenant(ctx, Tenant(id)); err != nil {
		return err
	}
	scoped := s.Scoped(id)
	for i := range rounds {
		if err := scoped.CreateKey(ctx, Key(fmt.Sprintf("key_%s_%d", id, i), id, fmt.Sprintf("plain-%s-%d", id, i))); err != nil {
			return err
		}
		batch := []tollgate.AuditEvent{
			Event(fmt.Sprintf("%s-own-%d", id, i), id, Base),
			Event(fmt.Sprintf("%s-shared-%d-a", id, i), "shared", Base),
			Event(fmt.Sprintf("%s-platform-%d", id, i), "", Base),
			Event(fmt.Sprintf("%s-shared-%d-b", id, i), "shared", Base),
		}
		if err := s.Audit().AppendAudit(ctx, batch, Seal); err != nil {
			return err
		}
	}
	return nil
}
