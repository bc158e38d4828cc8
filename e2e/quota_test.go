package e2e

import (
	"encoding/json"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/resolver/dnstest"
)

// TestQuotas: a 20 req/s tenant flooded with 200 tunnels at once lets
// between 20 and 60 through and refuses the rest with 429 and Retry-After;
// a concurrency limit of 2 refuses the third simultaneous tunnel; another
// tenant is unaffected throughout.
func TestQuotas(t *testing.T) {
	d := dnstest.Start(t)
	pub := upstreamIP()
	startEcho(t, pub, 443, nil)
	d.Set("hook.test", "hook.test. 60 IN A "+pub)
	cfg := baseConfig(t, d)
	section(cfg, "proxy")["require_auth"] = true
	section(cfg, "log")["level"] = "warn"
	in := start(t, cfg)

	in.createTenant(t, "flood", map[string]any{"quotas": map[string]any{"requests_per_second": 20, "burst": 20}})
	in.createTenant(t, "calm", nil)
	in.createTenant(t, "conc", map[string]any{"quotas": map[string]any{"max_concurrent": 2}})
	floodKey := in.createKey(t, "flood", map[string]any{"scopes": []string{"proxy"}})
	calmKey := in.createKey(t, "calm", map[string]any{"scopes": []string{"proxy"}})
	concKey := in.createKey(t, "conc", map[string]any{"scopes": []string{"proxy"}})

	var mu sync.Mutex
	statuses := map[int]int{}
	calmFailures := 0
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			res := in.connect(t, "hook.test:443", "flood", floodKey.Key)
			mu.Lock()
			defer mu.Unlock()
			statuses[res.status]++
			switch res.status {
			case 200:
				res.conn.Close()
			case 429:
				var body struct{ Detail string }
				_ = json.Unmarshal(res.body, &body)
				ra, err := strconv.Atoi(res.header.Get("Retry-After"))
				if res.phrase != "quota_exceeded" || err != nil || ra < 1 {
					t.Errorf("429 without a proper Retry-After/phrase: %q %q", res.phrase, res.header.Get("Retry-After"))
				}
			}
			if i%10 == 0 { // the other tenant keeps working during the flood
				r := in.connect(t, "hook.test:443", "calm", calmKey.Key)
				if r.status != 200 {
					calmFailures++
				} else {
					r.conn.Close()
				}
			}
		})
	}
	wg.Wait()
	if ok := statuses[200]; ok < 20 || ok > 60 || statuses[200]+statuses[429] != 200 {
		t.Fatalf("flood outcome %v: want 20..60 allowed and the rest 429", statuses)
	}
	if calmFailures != 0 {
		t.Fatalf("the other tenant had %d refusals during the flood", calmFailures)
	}

	t.Run("concurrency", func(t *testing.T) {
		a := in.connect(t, "hook.test:443", "conc", concKey.Key)
		b := in.connect(t, "hook.test:443", "conc", concKey.Key)
		if a.status != 200 || b.status != 200 {
			t.Fatalf("first two tunnels: %d %d", a.status, b.status)
		}
		c := in.connect(t, "hook.test:443", "conc", concKey.Key)
		checkRefusal(t, "third tunnel", c.status, c.phrase, c.header, c.body, 429, "quota_exceeded")
		if calm := in.connect(t, "hook.test:443", "calm", calmKey.Key); calm.status != 200 {
			t.Fatalf("other tenant refused while conc is at its limit: %d", calm.status)
		}
		// Raising the limit through the API is in force within a second.
		if st := in.api(in.adminToken, "PATCH", "/v1/tenants/conc", map[string]any{"quotas": map[string]any{"max_concurrent": 3}}, nil); st != 200 {
			t.Fatalf("raise limit: %d", st)
		}
		deadline := time.Now().Add(time.Second)
		for {
			r := in.connect(t, "hook.test:443", "conc", concKey.Key)
			if r.status == 200 {
				r.conn.Close()
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("raised limit not in force after 1s (last %d)", r.status)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if st := in.api(in.adminToken, "PATCH", "/v1/tenants/conc", map[string]any{"quotas": map[string]any{"max_concurrent": 2}}, nil); st != 200 {
			t.Fatalf("lower limit: %d", st)
		}
		a.conn.Close()
		waitUntil(t, "a slot to be released", func() bool {
			r := in.connect(t, "hook.test:443", "conc", concKey.Key)
			if r.conn != nil {
				r.conn.Close()
			}
			return r.status == 200
		})
	})
}
