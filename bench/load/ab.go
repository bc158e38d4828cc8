package main

import (
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/tollgate-dev/tollgate/bench/internal/tgbench"
)

// side is one half of an alternating comparison.
type side struct {
	name string
	in   *tgbench.Instance // nil for direct requests: no proxy CPU to report
	fn   func() (time.Duration, error)
	res  []result
}

func (s *side) pid() int {
	if s.in == nil {
		return 0
	}
	return s.in.Pid()
}

// runAB measures a scenario on two sides, A and B, in alternating rounds
// (A first in odd rounds, B first in even ones) so that drift in the
// machine's load falls on both alike, and reports the throughput ratio A/B
// of every round and their median. Both instances run side by side; only
// the one under load does work. Scenarios:
//   - tunnel: binaries A (-bin) and B (-ab), plain HTTP with a new
//     connection and CONNECT per request;
//   - https-tunnel: binaries A and B, HTTPS with a new connection, CONNECT
//     and full TLS handshake per request (B may be bench/nullproxy, the
//     do-nothing reference);
//   - intercept: binaries A and B, HTTPS keep-alive through an
//     intercept-mode tenant;
//   - intercept-vs-tunnel: one binary (-bin), HTTPS keep-alive through an
//     intercept-mode tenant (A) and a tunnel-mode tenant (B);
//   - tunnel-vs-direct, https-tunnel-vs-direct: one binary, a new
//     connection per request through a CONNECT tunnel (A) and straight to
//     the upstream (B), plain HTTP or HTTPS with a full TLS handshake.
func runAB(binA, binB, scenario string, dur time.Duration, workers, rounds int, extra string) error {
	var sides [2]*side
	plain := scenario == "tunnel" || scenario == "tunnel-vs-direct"
	var (
		pb      plainBench
		up      *httpsUpstream
		dnsAddr string
		stop    func()
		err     error
	)
	if plain {
		pb, stop, err = startPlainBench()
		dnsAddr = pb.dnsAddr
	} else {
		up, dnsAddr, stop, err = startHTTPSBench()
	}
	if err != nil {
		return err
	}
	defer stop()
	switch scenario {
	case "tunnel", "https-tunnel":
		for i, bin := range []string{binA, binB} {
			port := pb.port
			if !plain {
				port = up.port
			}
			in, stopIn, err := startTunnelMode(bin, dnsAddr, port, extra)
			if err != nil {
				return err
			}
			defer stopIn()
			fn := func() (time.Duration, error) { return newConnRequest(in.ProxyAddr, pb.target) }
			if !plain {
				c := httpsClient(in.ProxyAddr, "", up.roots(), false, workers)
				fn = func() (time.Duration, error) { return httpsGet(c, up.url()) }
			}
			sides[i] = &side{in: in, fn: fn}
		}
	case "intercept", "intercept-vs-tunnel":
		// intercept: the same mode through binaries A and B;
		// intercept-vs-tunnel: binary A in both modes.
		bins, modes := []string{binA, binB}, []string{"intercept", "intercept"}
		if scenario == "intercept-vs-tunnel" {
			bins, modes = []string{binA, binA}, []string{"intercept", "tunnel"}
			binB = binA
		}
		for i := range sides {
			in, stopIn, err := startHTTPSMode(bins[i], dnsAddr, up.caPEM, modes[i], up.port, extra)
			if err != nil {
				return err
			}
			defer stopIn()
			roots := up.roots()
			if modes[i] == "intercept" {
				if roots, err = interceptRoots(in); err != nil {
					return err
				}
			}
			c := httpsClient(in.ProxyAddr, "", roots, true, workers)
			sides[i] = &side{in: in, fn: func() (time.Duration, error) { return httpsGet(c, up.url()) }}
		}
	case "tunnel-vs-direct":
		in, stopIn, err := startTunnelMode(binA, dnsAddr, pb.port, extra)
		if err != nil {
			return err
		}
		defer stopIn()
		sides[0] = &side{in: in, fn: func() (time.Duration, error) { return newConnRequest(in.ProxyAddr, pb.target) }}
		sides[1] = &side{fn: func() (time.Duration, error) { return newConnRequest(pb.upstream, "") }}
	case "https-tunnel-vs-direct":
		in, stopIn, err := startTunnelMode(binA, dnsAddr, up.port, extra)
		if err != nil {
			return err
		}
		defer stopIn()
		viaTunnel := httpsClient(in.ProxyAddr, "", up.roots(), false, workers)
		direct := httpsClient("", up.addr, up.roots(), false, workers)
		sides[0] = &side{in: in, fn: func() (time.Duration, error) { return httpsGet(viaTunnel, up.url()) }}
		sides[1] = &side{fn: func() (time.Duration, error) { return httpsGet(direct, up.url()) }}
	default:
		return fmt.Errorf("-ab-scenario %q: want tunnel, https-tunnel, intercept, intercept-vs-tunnel, tunnel-vs-direct or https-tunnel-vs-direct", scenario)
	}
	sides[0].name, sides[1].name = "A "+binA, "B "+binB
	switch scenario {
	case "intercept-vs-tunnel":
		sides[0].name, sides[1].name = "A intercept", "B tunnel"
	case "tunnel-vs-direct", "https-tunnel-vs-direct":
		sides[0].name, sides[1].name = "A via tunnel", "B direct"
	}

	for _, s := range sides { // warm caches, pools and the connections of keep-alive clients
		_ = measure(s.name, workers, dur/5, s.pid(), wrap(s.fn))
	}
	var ratios []float64
	fmt.Printf("scenario %s, %d rounds of %v per binary\n\n| round | A req/s | A CPU/req | B req/s | B CPU/req | A/B throughput |\n|---|---|---|---|---|---|\n", scenario, rounds, dur)
	for round := 1; round <= rounds; round++ {
		order := []*side{sides[0], sides[1]}
		if round%2 == 0 {
			slices.Reverse(order)
		}
		for _, s := range order {
			s.res = append(s.res, measure(s.name, workers, dur, s.pid(), wrap(s.fn)))
		}
		a, b := sides[0].res[round-1], sides[1].res[round-1]
		ratios = append(ratios, a.rps()/b.rps())
		fmt.Printf("| %d | %.0f | %s | %.0f | %s | %.3f |\n", round, a.rps(), cpuPerReq(a), b.rps(), cpuPerReq(b), a.rps()/b.rps())
		if a.errors+b.errors > 0 {
			fmt.Printf("errors in round %d: A %d, B %d\n", round, a.errors, b.errors)
		}
	}
	fmt.Printf("\npeak RSS: A %s, B %s\n", tgbench.PeakRSS(sides[0].pid()), tgbench.PeakRSS(sides[1].pid()))
	slices.Sort(ratios)
	fmt.Printf("A = %s\nB = %s\nmedian A/B throughput over %d rounds: %.3f (min %.3f, max %.3f)\n",
		sides[0].name[2:], sides[1].name[2:], rounds, median(ratios), ratios[0], ratios[len(ratios)-1])
	return nil
}

func cpuPerReq(r result) string {
	if r.requests == 0 || r.cpu == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f µs", float64(r.cpu.Microseconds())/float64(r.requests))
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// interceptRoots fetches an instance's intercept CA for its clients to trust.
func interceptRoots(in *tgbench.Instance) (*x509.CertPool, error) {
	resp, err := http.Get("http://" + in.CtrlAddr + "/v1/intercept-ca.pem")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	pem, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("intercept CA: no PEM certificate in %q", pem)
	}
	return roots, nil
}
