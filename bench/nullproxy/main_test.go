package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

func TestDialRefusesAllButLoopback(t *testing.T) {
	p := &proxy{addrs: map[string]netip.Addr{}}
	for _, target := range []string{"10.0.0.1:80", "169.254.169.254:80", "[2001:db8::1]:443", "192.0.2.1:443"} {
		if c, err := p.dial(context.Background(), target); err == nil {
			c.Close()
			t.Errorf("dial %s: connected, want refusal before dialling", target)
		} else if !strings.Contains(err.Error(), "loopback only") {
			t.Errorf("dial %s: %v, want the loopback-only refusal", target, err)
		}
	}
	if _, err := p.dial(context.Background(), "bench.test:80"); err == nil {
		t.Error("dial bench.test with no resolver: connected")
	}
}

func TestConnectSplices(t *testing.T) {
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		c, err := echo.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = io.Copy(c, c)
	}()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	p := &proxy{addrs: map[string]netip.Addr{}}
	go func() {
		c, err := ln.Accept()
		if err == nil {
			p.serve(c)
		}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// The first payload bytes ride in the same write as the CONNECT: they
	// must reach the target, not be lost in the proxy's read buffer.
	if _, err := io.WriteString(c, "CONNECT "+echo.Addr().String()+" HTTP/1.1\r\nHost: x\r\n\r\nping"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("CONNECT: %s", resp.Status)
	}
	got := make([]byte, 4)
	if _, err := io.ReadFull(br, got); err != nil || string(got) != "ping" {
		t.Fatalf("echo through the tunnel: %q, %v", got, err)
	}
}
