// Command load measures CONNECT tunnel throughput, latency percentiles and
// the proxy's CPU per request through a running tollgate binary against
// the same requests sent directly, with a new connection per request and
// with keep-alive, and prints the ratios. It starts its own upstream, DNS
// server and tollgate process on loopback; run it with scripts/bench-load,
// which builds the binary and enters a private network namespace.
//
// -pin gives the proxy a core of its own (taskset) and the harness the
// other, for direct and tunnel alike. -intercept compares HTTPS keep-alive
// through an intercept-mode tenant with a tunnel-mode tenant and counts
// the leaf certificates minted for one host (intercept.go). -https runs the
// tunnel-vs-direct comparison with TLS to the upstream, as HTTPS_PROXY
// clients do; new connection per request then means a full TLS handshake
// each time (https.go).
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate-dev/tollgate/bench/internal/tgbench"
)

func main() {
	bin := flag.String("bin", "bin/tollgate", "tollgate binary")
	dur := flag.Duration("duration", 5*time.Second, "duration of each scenario")
	workers := flag.Int("c", 16, "concurrent clients")
	extra := flag.String("config", "", "extra YAML appended to the generated config (e.g. quotas)")
	intercept := flag.Bool("intercept", false, "compare HTTPS keep-alive through an intercept-mode tenant against a tunnel-mode tenant, then count minted leaf certificates")
	mintConns := flag.Int("mintconns", 100, "with -intercept: fresh connections to one host before reading tollgate_intercept_certs_minted_total")
	https := flag.Bool("https", false, "compare HTTPS through a CONNECT tunnel against HTTPS sent directly, with a new connection (full TLS handshake) per request and with keep-alive")
	ab := flag.String("ab", "", "second tollgate binary: measure -ab-scenario through -bin (A) and this one (B) in alternating rounds and report the A/B throughput ratio (scripts/bench-audit-ab)")
	abScenario := flag.String("ab-scenario", "tunnel", "alternating rounds: tunnel, https-tunnel or intercept (with -ab: the same scenario through -bin and -ab; -ab may be bench/nullproxy, a do-nothing CONNECT proxy), or, with no -ab, intercept-vs-tunnel (HTTPS keep-alive through an intercept-mode and a tunnel-mode tenant of -bin), tunnel-vs-direct or https-tunnel-vs-direct (a new connection per request through -bin's CONNECT tunnel and straight to the upstream)")
	rounds := flag.Int("rounds", 6, "with -ab or -ab-scenario intercept-vs-tunnel: alternating rounds")
	flag.BoolVar(&upstreamClose, "upstream-close", false, "the HTTPS upstream answers every request with Connection: close, as some receivers do: each delivery needs a new upstream connection (compare intercept binaries with -ab-scenario intercept)")
	flag.StringVar(&logLevel, "log-level", "warn", "tollgate's log.level: warn (the default here) leaves out the per-request log line; info, the product default, writes one per request to this harness's stderr")
	pin := flag.Bool("pin", false, "pin tollgate to CPU 1 and this harness (clients and upstream) to CPU 0 with GOMAXPROCS=1, for direct and tunnel alike: the proxy gets a core of its own, as it would in production")
	flag.Parse()
	if *intercept && *https {
		fmt.Fprintln(os.Stderr, "load: -intercept and -https are separate runs")
		os.Exit(2)
	}
	fmt.Printf("load average: %s\n\n", tgbench.Uptime())
	if *pin {
		runtime.GOMAXPROCS(1)
		if out, err := exec.Command("taskset", "-a", "-p", "-c", "0", strconv.Itoa(os.Getpid())).CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "load: taskset: %v: %s\n", err, out)
			os.Exit(1)
		}
		wrapCmd = []string{"taskset", "-c", "1"}
	}
	var err error
	if *ab != "" || strings.Contains(*abScenario, "-vs-") {
		err = runAB(*bin, *ab, *abScenario, *dur, *workers, *rounds, *extra)
	} else if *intercept {
		err = runIntercept(*bin, *dur, *workers, *mintConns, *extra)
	} else if *https {
		err = runHTTPS(*bin, *dur, *workers, *extra)
	} else {
		err = run(*bin, *dur, *workers, *extra)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

// wrapCmd prefixes the tollgate command line (taskset with -pin).
var wrapCmd []string

// logLevel is the log.level of the tollgate instances (-log-level).
var logLevel = "warn"

// upstreamClose makes the HTTPS upstream close every connection after one
// response (-upstream-close).
var upstreamClose bool

type result struct {
	name     string
	requests int64
	errors   int64
	elapsed  time.Duration
	lat      []time.Duration
	cpu      time.Duration // proxy process CPU during the run
}

func (r result) rps() float64 { return float64(r.requests) / r.elapsed.Seconds() }

func (r result) pct(p float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	return r.lat[int(float64(len(r.lat)-1)*p)]
}

// plainBench is a loopback HTTP upstream and a DNS server that names it
// bench.test.
type plainBench struct {
	upstream string // host:port
	port     int
	dnsAddr  string
	target   string // bench.test:port, the CONNECT authority
}

func startPlainBench() (plainBench, func(), error) {
	upstream, err := startUpstream("127.0.1.1:0")
	if err != nil {
		return plainBench{}, nil, err
	}
	_, portStr, _ := net.SplitHostPort(upstream)
	port, _ := strconv.Atoi(portStr)
	dnsAddr, stopDNS, err := tgbench.StartDNS("bench.test.", "127.0.1.1")
	if err != nil {
		return plainBench{}, nil, err
	}
	return plainBench{upstream: upstream, port: port, dnsAddr: dnsAddr, target: fmt.Sprintf("bench.test:%d", port)}, stopDNS, nil
}

func run(bin string, dur time.Duration, workers int, extra string) error {
	pb, stopBench, err := startPlainBench()
	if err != nil {
		return err
	}
	defer stopBench()
	upstream, target := pb.upstream, pb.target

	tg, stop, err := startTunnelMode(bin, pb.dnsAddr, pb.port, extra)
	if err != nil {
		return err
	}
	defer stop()
	proxyAddr := tg.ProxyAddr
	pid := tg.Pid()

	scenarios := []struct {
		name string
		fn   func() (time.Duration, error)
		keep bool
	}{
		{"direct, new connection per request", func() (time.Duration, error) { return newConnRequest(upstream, "") }, false},
		{"tunnel, new connection per request", func() (time.Duration, error) { return newConnRequest(proxyAddr, target) }, false},
	}
	var results []result
	for _, s := range scenarios {
		results = append(results, warmMeasure(s.name, workers, dur, pid, wrap(s.fn)))
	}
	for _, via := range []string{"", proxyAddr} {
		name := "direct, keep-alive"
		if via != "" {
			name = "tunnel, keep-alive"
		}
		_ = measureKeepAlive(name, workers, dur/5, pid, upstream, via, target)
		results = append(results, measureKeepAlive(name, workers, dur, pid, upstream, via, target))
	}

	printTable(results, func(r result) bool { return strings.HasPrefix(r.name, "tunnel") })
	printTunnelRatios(results)
	return nil
}

// startTunnelMode runs tollgate with the config every tunnel-vs-direct
// comparison shares, so the plain and the HTTPS figures differ only in what
// the clients send.
func startTunnelMode(bin, dnsAddr string, port int, extra string) (*tgbench.Instance, func(), error) {
	return startInstance(bin, "tunnel", func(string) (string, error) {
		return tgbench.Egress{DNS: dnsAddr, Port: port, LogLevel: logLevel, Extra: extra}.Config(), nil
	})
}

// startInstance runs tollgate (require_auth: false) in a fresh data dir on
// the config cfg makes (it may write files into dir); stop ends it and
// removes the dir.
func startInstance(bin, name string, cfg func(dir string) (string, error)) (*tgbench.Instance, func(), error) {
	dir, err := os.MkdirTemp("", "tollgate-bench-"+name)
	if err != nil {
		return nil, nil, err
	}
	c, err := cfg(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	tg, err := tgbench.Start(bin, dir, "  require_auth: false\n", c, wrapCmd)
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	return tg, func() { tg.Stop(); os.RemoveAll(dir) }, nil
}

// warmMeasure runs fn for dur/5 before the measured dur so that caches (DNS,
// goroutine pools) are warm.
func warmMeasure(name string, workers int, dur time.Duration, pid int, fn func(context.Context) (time.Duration, error)) result {
	_ = measure(name, workers, dur/5, pid, fn)
	return measure(name, workers, dur, pid, fn)
}

func printTable(results []result, showCPU func(result) bool) {
	fmt.Printf("| scenario | req/s | p50 | p90 | p99 | errors | proxy CPU/req |\n|---|---|---|---|---|---|---|\n")
	for _, r := range results {
		printRow(r, showCPU(r))
	}
}

// printTunnelRatios expects results in the order direct/tunnel new
// connection, then direct/tunnel keep-alive.
func printTunnelRatios(results []result) {
	fmt.Printf("\nratio tunnel/direct, new connection: %.2f\n", results[1].rps()/results[0].rps())
	fmt.Printf("ratio tunnel/direct, keep-alive:     %.2f\n", results[3].rps()/results[2].rps())
}

func printRow(r result, showCPU bool) {
	cpu := "-"
	if showCPU {
		cpu = cpuPerReq(r)
	}
	fmt.Printf("| %s | %.0f | %v | %v | %v | %d | %s |\n", r.name, r.rps(), r.pct(.5).Round(time.Microsecond),
		r.pct(.9).Round(time.Microsecond), r.pct(.99).Round(time.Microsecond), r.errors, cpu)
}

func measure(name string, workers int, dur time.Duration, pid int, fn func(context.Context) (time.Duration, error)) result {
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	var n, errs atomic.Int64
	lats := make([][]time.Duration, workers)
	cpu0 := tgbench.ProcCPU(pid)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				d, err := fn(ctx)
				if err != nil {
					if errs.Add(1) == 1 && ctx.Err() == nil {
						fmt.Fprintf(os.Stderr, "load: %s: first error: %v\n", name, err)
					}
					continue
				}
				n.Add(1)
				lats[w] = append(lats[w], d)
			}
		})
	}
	wg.Wait()
	r := result{name: name, requests: n.Load(), errors: errs.Load(), elapsed: time.Since(start), cpu: tgbench.ProcCPU(pid) - cpu0}
	for _, l := range lats {
		r.lat = append(r.lat, l...)
	}
	slices.Sort(r.lat)
	return r
}

// newConnRequest makes one request on a fresh connection, through a CONNECT
// tunnel when target is set.
func newConnRequest(addr, target string) (time.Duration, error) {
	start := time.Now()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	br := bufio.NewReader(c)
	if target != "" {
		if err := openTunnel(c, br, target); err != nil {
			return 0, err
		}
	}
	if err := oneRequest(c, br, false); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

func openTunnel(c net.Conn, br *bufio.Reader, target string) error {
	if _, err := fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target); err != nil {
		return err
	}
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 {
		return fmt.Errorf("CONNECT: %s", resp.Status)
	}
	return nil
}

func oneRequest(c net.Conn, br *bufio.Reader, keep bool) error {
	conn := "close"
	if keep {
		conn = "keep-alive"
	}
	if _, err := fmt.Fprintf(c, "GET /bench HTTP/1.1\r\nHost: bench.test\r\nConnection: %s\r\n\r\n", conn); err != nil {
		return err
	}
	resp, err := http.ReadResponse(br, nil)
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

func measureKeepAlive(name string, workers int, dur time.Duration, pid int, upstream, via, target string) result {
	conns := make(chan struct {
		c  net.Conn
		br *bufio.Reader
	}, workers)
	for range workers {
		addr := upstream
		if via != "" {
			addr = via
		}
		c, err := net.Dial("tcp", addr)
		if err != nil {
			continue
		}
		br := bufio.NewReader(c)
		if via != "" {
			if err := openTunnel(c, br, target); err != nil {
				c.Close()
				continue
			}
		}
		conns <- struct {
			c  net.Conn
			br *bufio.Reader
		}{c, br}
	}
	defer func() {
		close(conns)
		for cc := range conns {
			cc.c.Close()
		}
	}()
	return measure(name, workers, dur, pid, func(context.Context) (time.Duration, error) {
		cc := <-conns
		defer func() { conns <- cc }()
		start := time.Now()
		if err := oneRequest(cc.c, cc.br, true); err != nil {
			return 0, err
		}
		return time.Since(start), nil
	})
}

func startUpstream(addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	body := strings.Repeat("x", 1024)
	go func() {
		_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, body)
		}))
	}()
	return ln.Addr().String(), nil
}
