// Package tgbench holds what the bench mains share: starting a tollgate
// binary on loopback with a generated config, a one-name DNS server, the
// control API as admin, /metrics scraping, process CPU and percentiles.
// Everything here talks to 127.0.0.0/8 only.
package tgbench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Instance is one running tollgate process.
type Instance struct {
	Cmd       *exec.Cmd
	Dir       string
	ProxyAddr string
	CtrlAddr  string
	Token     string
	done      chan struct{}
}

// Start writes a config (proxy and control listeners on free loopback
// ports, data_dir dir, then proxyLines indented under proxy:, then cfg)
// and runs `bin serve`, waiting for /readyz. wrap, if not empty, is a
// command prefix (e.g. taskset -c 1).
func Start(bin, dir, proxyLines, cfg string, wrap []string) (*Instance, error) {
	in := &Instance{
		Dir:       dir,
		ProxyAddr: "127.0.0.1:" + FreePort(),
		CtrlAddr:  "127.0.0.1:" + FreePort(),
		Token:     "tg_admin_bench_token_0123456789",
		done:      make(chan struct{}),
	}
	full := fmt.Sprintf("proxy:\n  listen: %s\n%scontrol:\n  listen: %s\ndata_dir: %s\n", in.ProxyAddr, proxyLines, in.CtrlAddr, dir) + cfg
	path := filepath.Join(dir, "tollgate.yaml")
	if err := os.WriteFile(path, []byte(full), 0o600); err != nil {
		return nil, err
	}
	args := append(append([]string{}, wrap...), bin, "serve", "--config", path)
	in.Cmd = exec.Command(args[0], args[1:]...)
	in.Cmd.Env = append(os.Environ(), "TOLLGATE_ADMIN_TOKEN="+in.Token)
	in.Cmd.Stderr = os.Stderr
	if err := in.Cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = in.Cmd.Wait(); close(in.done) }()
	if err := in.WaitReady(); err != nil {
		in.Kill()
		return nil, err
	}
	return in, nil
}

// Restart starts the same config again (after Kill or Stop).
func (in *Instance) Restart(bin string) error {
	in.done = make(chan struct{})
	in.Cmd = exec.Command(bin, "serve", "--config", filepath.Join(in.Dir, "tollgate.yaml"))
	in.Cmd.Env = append(os.Environ(), "TOLLGATE_ADMIN_TOKEN="+in.Token)
	in.Cmd.Stderr = os.Stderr
	if err := in.Cmd.Start(); err != nil {
		return err
	}
	go func() { _ = in.Cmd.Wait(); close(in.done) }()
	return in.WaitReady()
}

func (in *Instance) WaitReady() error {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get("http://" + in.CtrlAddr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		select {
		case <-in.done:
			return errors.New("tollgate exited during start")
		default:
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("tollgate did not become ready")
}

// Stop sends SIGINT (graceful drain) and waits.
func (in *Instance) Stop() {
	_ = in.Cmd.Process.Signal(os.Interrupt)
	select {
	case <-in.done:
	case <-time.After(20 * time.Second):
		in.Kill()
	}
}

// Kill sends SIGKILL and waits.
func (in *Instance) Kill() {
	_ = in.Cmd.Process.Kill()
	<-in.done
}

// Pid of the tollgate process itself (not a taskset wrapper: taskset execs).
func (in *Instance) Pid() int { return in.Cmd.Process.Pid }

// API calls the control API as admin and decodes the JSON answer into out.
func (in *Instance) API(method, path string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, "http://"+in.CtrlAddr+path, rd)
	req.Header.Set("Authorization", "Bearer "+in.Token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, raw)
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: decode: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

// Metric sums every sample of the named metric (all label sets) in /metrics.
func (in *Instance) Metric(name string) (float64, error) {
	resp, err := http.Get("http://" + in.CtrlAddr + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var sum float64
	found := false
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		if rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			sum += v
			found = true
		}
	}
	if !found {
		return 0, fmt.Errorf("metric %s not found", name)
	}
	return sum, sc.Err()
}

// StartDNS answers A queries for name with ip (TTL 300) on a loopback UDP port.
func StartDNS(name, ip string) (string, func(), error) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		if len(q.Question) == 1 && q.Question[0].Name == name && q.Question[0].Qtype == dns.TypeA {
			rr, _ := dns.NewRR(name + " 300 IN A " + ip)
			m.Answer = append(m.Answer, rr)
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	return pc.LocalAddr().String(), func() { _ = srv.Shutdown() }, nil
}

// FreePort reserves a loopback port long enough to hand it to the binary.
func FreePort() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	_, p, _ := net.SplitHostPort(ln.Addr().String())
	return p
}

// ProcCPU is the user+system CPU time of a process (clock ticks of 10 ms).
func ProcCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// Pct is the p-quantile of sorted latencies.
func Pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(float64(len(sorted)-1)*p)]
}

// SortDurations sorts in place and returns its argument.
func SortDurations(d []time.Duration) []time.Duration { slices.Sort(d); return d }

// Uptime is the load-average line of /proc/loadavg.
func Uptime() string {
	b, _ := os.ReadFile("/proc/loadavg")
	return strings.TrimSpace(string(b))
}

// PeakRSS is a process's peak resident set size (VmHWM), or "" if unknown.
func PeakRSS(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strings.Join(strings.Fields(v), " ")
		}
	}
	return ""
}

// Egress is the tollgate config every bench harness shares: the harness's
// DNS server, loopback upstreams on 127.0.1.0/24 allowed, one allowed port.
type Egress struct {
	DNS            string // resolver address
	Port           int    // the one allowed port
	LogLevel       string
	Mode           string // defaults.mode; "" leaves the default (tunnel)
	UpstreamCAFile string // egress.upstream_ca_file, if any
	Extra          string // appended as is
}

// Config renders e as YAML.
func (e Egress) Config() string {
	var b strings.Builder
	fmt.Fprintf(&b, "resolver:\n  servers: [%s]\negress:\n  allow_cidrs: [127.0.1.0/24]\n", e.DNS)
	if e.UpstreamCAFile != "" {
		fmt.Fprintf(&b, "  upstream_ca_file: %s\n", e.UpstreamCAFile)
	}
	b.WriteString("defaults:\n")
	if e.Mode != "" {
		fmt.Fprintf(&b, "  mode: %s\n", e.Mode)
	}
	fmt.Fprintf(&b, "  policy:\n    allowed_ports: [%d]\nlog:\n  level: %s\n%s", e.Port, e.LogLevel, e.Extra)
	return b.String()
}
