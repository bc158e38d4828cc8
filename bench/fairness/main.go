// Command fairness measures quota isolation between tenants: tenant A
// floods at -flood× its requests_per_second quota from -conns concurrent
// connections while tenant B sends at half its quota (open loop, fixed
// interval). Each request is a new connection: CONNECT with the tenant's
// key, then one GET through the tunnel to a loopback upstream. It reports
// B's success rate and B's latency percentiles with A flooding against B
// alone (same rate, same duration, measured first). Run it with
// scripts/bench-fairness, which builds the binary and enters a private
// network namespace.
package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate-dev/tollgate/bench/internal/tgbench"
)

func main() {
	bin := flag.String("bin", "bin/tollgate", "tollgate binary")
	dur := flag.Duration("duration", 10*time.Second, "duration of each phase")
	quota := flag.Int("quota", 100, "requests_per_second (and burst) of both tenants")
	flood := flag.Int("flood", 10, "tenant A's offered rate as a multiple of its quota")
	conns := flag.Int("conns", 64, "tenant A's concurrent connections")
	flag.Parse()
	if err := run(*bin, *dur, *quota, *flood, *conns); err != nil {
		fmt.Fprintln(os.Stderr, "fairness:", err)
		os.Exit(1)
	}
}

type stats struct {
	sent, ok, refused, errs atomic.Int64
	mu                      sync.Mutex
	lat                     []time.Duration
	firstErr                atomic.Value
}

func (s *stats) add(d time.Duration, err error) {
	s.sent.Add(1)
	var rf refusal
	switch {
	case err == nil:
		s.ok.Add(1)
		s.mu.Lock()
		s.lat = append(s.lat, d)
		s.mu.Unlock()
	case errors.As(err, &rf):
		s.refused.Add(1)
		s.firstErr.CompareAndSwap(nil, err.Error())
	default:
		s.errs.Add(1)
		s.firstErr.CompareAndSwap(nil, err.Error())
	}
}

type refusal struct{ status string }

func (r refusal) Error() string { return "CONNECT refused: " + r.status }

func run(bin string, dur time.Duration, quota, flood, conns int) error {
	ln, err := net.Listen("tcp", "127.0.1.1:0")
	if err != nil {
		return err
	}
	body := strings.Repeat("x", 1024)
	go func() {
		_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, body) }))
	}()
	_, portStr, _ := net.SplitHostPort(ln.Addr().String())
	port, _ := strconv.Atoi(portStr)
	dnsAddr, stopDNS, err := tgbench.StartDNS("bench.test.", "127.0.1.1")
	if err != nil {
		return err
	}
	defer stopDNS()
	dir, err := os.MkdirTemp("", "tollgate-fairness")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfg := tgbench.Egress{DNS: dnsAddr, Port: port, LogLevel: "error"}.Config()
	in, err := tgbench.Start(bin, dir, "  require_auth: true\n", cfg, nil)
	if err != nil {
		return err
	}
	defer in.Stop()

	keys := map[string]string{}
	for _, t := range []string{"tenant-a", "tenant-b"} {
		q := map[string]any{"requests_per_second": quota, "burst": quota}
		if _, err := in.API("POST", "/v1/tenants", map[string]any{"id": t, "name": t, "quotas": q}, nil); err != nil {
			return err
		}
		var k struct {
			Key string `json:"key"`
		}
		if _, err := in.API("POST", "/v1/tenants/"+t+"/keys", map[string]any{"scopes": []string{"proxy"}}, &k); err != nil {
			return err
		}
		keys[t] = k.Key
	}
	time.Sleep(1500 * time.Millisecond) // API changes reach the proxy within 1s
	target := fmt.Sprintf("bench.test:%d", port)
	authA := "Basic " + base64.StdEncoding.EncodeToString([]byte("tenant-a:"+keys["tenant-a"]))
	authB := "Basic " + base64.StdEncoding.EncodeToString([]byte("tenant-b:"+keys["tenant-b"]))
	rateB := float64(quota) / 2
	rateA := float64(quota * flood)

	fmt.Printf("load average at start: %s\n", tgbench.Uptime())
	// Warm-up: DNS cache, key cache, goroutine pools.
	_ = paced(context.Background(), in.ProxyAddr, target, authB, rateB, 1, time.Second)
	time.Sleep(time.Second) // refill B's bucket

	alone := paced(context.Background(), in.ProxyAddr, target, authB, rateB, 1, dur)
	time.Sleep(time.Second)

	cpu0 := tgbench.ProcCPU(in.Pid())
	ctx, cancel := context.WithCancel(context.Background())
	var aStats *stats
	var wg sync.WaitGroup
	wg.Go(func() { aStats = paced(ctx, in.ProxyAddr, target, authA, rateA, conns, dur+2*time.Second) })
	time.Sleep(time.Second) // let A's bucket drain so B is measured under a saturated A
	withFlood := paced(context.Background(), in.ProxyAddr, target, authB, rateB, 1, dur)
	cancel()
	wg.Wait()
	cpu := tgbench.ProcCPU(in.Pid()) - cpu0

	fmt.Printf("load average at end:   %s\n\n", tgbench.Uptime())
	fmt.Printf("quota per tenant: %d req/s (burst %d); A offers %.0f req/s from %d connections; B offers %.0f req/s; each phase %v\n\n",
		quota, quota, rateA, conns, rateB, dur)
	fmt.Printf("| run | sent | ok | 429 | other errors | success | ok/s | p50 | p90 | p99 |\n|---|---|---|---|---|---|---|---|---|---|\n")
	row := func(name string, s *stats, d time.Duration) {
		lat := tgbench.SortDurations(s.lat)
		fmt.Printf("| %s | %d | %d | %d | %d | %.2f%% | %.1f | %v | %v | %v |\n", name, s.sent.Load(), s.ok.Load(), s.refused.Load(), s.errs.Load(),
			100*float64(s.ok.Load())/float64(max(1, s.sent.Load())), float64(s.ok.Load())/d.Seconds(),
			tgbench.Pct(lat, .5).Round(time.Microsecond), tgbench.Pct(lat, .9).Round(time.Microsecond), tgbench.Pct(lat, .99).Round(time.Microsecond))
	}
	row("B alone", alone, dur)
	row("B while A floods", withFlood, dur)
	row("A flooding", aStats, dur+2*time.Second)
	for n, s := range map[string]*stats{"B alone": alone, "B flood": withFlood, "A": aStats} {
		if e := s.firstErr.Load(); e != nil {
			fmt.Printf("\nfirst failure (%s): %v", n, e)
		}
	}
	pa, pf := tgbench.Pct(alone.lat, .99), tgbench.Pct(withFlood.lat, .99)
	fmt.Printf("\n\nB success rate while A floods: %.2f%%\n", 100*float64(withFlood.ok.Load())/float64(max(1, withFlood.sent.Load())))
	fmt.Printf("B p99 with flood / B p99 alone: %v / %v = %.2f\n", pf.Round(time.Microsecond), pa.Round(time.Microsecond), float64(pf)/float64(pa))
	fmt.Printf("A admitted: %.1f req/s (quota %d)\n", float64(aStats.ok.Load())/(dur+2*time.Second).Seconds(), quota)
	fmt.Printf("proxy CPU during flood phase: %v (%.0f µs per request, A+B)\n", cpu, float64(cpu.Microseconds())/float64(aStats.sent.Load()+withFlood.sent.Load()))
	return nil
}

// paced sends rate requests per second in total from conns workers, each
// on its own fixed schedule (open loop: a late request does not delay the
// schedule; each worker runs one request at a time, so a worker that falls
// behind catches up back to back). Each request is a new connection.
func paced(ctx context.Context, proxy, target, auth string, rate float64, conns int, dur time.Duration) *stats {
	s := &stats{}
	ctx, cancel := context.WithTimeout(ctx, dur)
	defer cancel()
	interval := time.Duration(float64(time.Second) * float64(conns) / rate)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range conns {
		wg.Go(func() {
			next := start.Add(interval * time.Duration(w) / time.Duration(conns))
			for {
				if d := time.Until(next); d > 0 {
					select {
					case <-ctx.Done():
						return
					case <-time.After(d):
					}
				} else if ctx.Err() != nil {
					return
				}
				next = next.Add(interval)
				t0 := time.Now()
				err := oneTunnelRequest(proxy, target, auth)
				s.add(time.Since(t0), err)
			}
		})
	}
	wg.Wait()
	return s
}

func oneTunnelRequest(proxy, target, auth string) error {
	c, err := net.DialTimeout("tcp", proxy, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	if _, err := fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\nProxy-Authorization: %s\r\n\r\n", target, target, auth); err != nil {
		return err
	}
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		return err
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		return refusal{resp.Status + " " + resp.Header.Get("Tollgate-Reason")}
	}
	if resp.StatusCode != 200 {
		return fmt.Errorf("CONNECT: %s", resp.Status)
	}
	if _, err := io.WriteString(c, "GET /bench HTTP/1.1\r\nHost: bench.test\r\nConnection: close\r\n\r\n"); err != nil {
		return err
	}
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return errors.New(resp.Status)
	}
	return err
}
