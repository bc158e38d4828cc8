// Command nullproxy is the reference point for tunnel benchmarks: a CONNECT
// proxy that does nothing but resolve (once per name), dial and splice. No
// policy, audit, metrics or logging. Measured through the same harness as
// tollgate, it shows how close to direct any CONNECT proxy can get on the
// machine at hand: the client's extra connection and CONNECT exchange cost
// the load generator CPU whatever the proxy does.
//
// It accepts tollgate's command line (serve --config FILE) and reads
// proxy.listen, control.listen and resolver.servers from that file, so
// bench/load starts it like tollgate (pass it as -bin or -ab). It dials only
// loopback addresses: it exists for benchmarks in a private network
// namespace and must never become an open proxy.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync"

	"gopkg.in/yaml.v3"
)

type config struct {
	Proxy struct {
		Listen string `yaml:"listen"`
	} `yaml:"proxy"`
	Control struct {
		Listen string `yaml:"listen"`
	} `yaml:"control"`
	Resolver struct {
		Servers []string `yaml:"servers"`
	} `yaml:"resolver"`
}

func main() {
	if len(os.Args) < 2 || os.Args[1] != "serve" {
		log.Fatal("usage: nullproxy serve --config FILE")
	}
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	path := fs.String("config", "", "tollgate-style YAML config")
	_ = fs.Parse(os.Args[2:])
	if err := run(*path); err != nil {
		log.Fatal(err)
	}
}

func run(path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var cfg config
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if cfg.Proxy.Listen == "" || cfg.Control.Listen == "" {
		return fmt.Errorf("%s: proxy.listen and control.listen are required", path)
	}
	p := &proxy{addrs: map[string]netip.Addr{}}
	if len(cfg.Resolver.Servers) > 0 {
		server := cfg.Resolver.Servers[0]
		p.res = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, server)
		}}
	}
	ln, err := net.Listen("tcp", cfg.Proxy.Listen)
	if err != nil {
		return err
	}
	ctl, err := net.Listen("tcp", cfg.Control.Listen)
	if err != nil {
		return err
	}
	go func() {
		_ = http.Serve(ctl, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") }))
	}()
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go p.serve(c)
	}
}

type proxy struct {
	res   *net.Resolver
	mu    sync.Mutex
	addrs map[string]netip.Addr // resolved once, kept for good: this proxy checks nothing
}

func (p *proxy) serve(c net.Conn) {
	defer c.Close()
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	if req.Method != http.MethodConnect {
		_, _ = io.WriteString(c, "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
		return
	}
	up, err := p.dial(req.Context(), req.Host)
	if err != nil {
		_, _ = io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
		return
	}
	defer up.Close()
	if _, err := io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	if n := br.Buffered(); n > 0 {
		b, _ := br.Peek(n)
		if _, err := up.Write(b); err != nil {
			return
		}
	}
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(up, c)
		if tc, ok := up.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		close(done)
	}()
	_, _ = io.Copy(c, up)
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
	<-done
}

func (p *proxy) dial(ctx context.Context, hostport string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	a, ok := p.addrs[host]
	p.mu.Unlock()
	if !ok {
		if a, err = netip.ParseAddr(host); err != nil {
			if p.res == nil {
				return nil, errors.New("no resolver.servers configured")
			}
			ips, err := p.res.LookupNetIP(ctx, "ip4", host)
			if err != nil || len(ips) == 0 {
				return nil, fmt.Errorf("resolve %s: %v", host, err)
			}
			a = ips[0]
		}
		p.mu.Lock()
		p.addrs[host] = a
		p.mu.Unlock()
	}
	if !a.Unmap().IsLoopback() {
		return nil, fmt.Errorf("%s: nullproxy dials loopback only", a)
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", net.JoinHostPort(a.String(), port))
}
