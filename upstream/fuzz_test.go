package upstream

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// FuzzResponse feeds arbitrary receiver bytes to a round trip: whatever
// arrives, RoundTrip returns (a response or an error) without panicking or
// hanging, and a connection is pooled only after a response that was read
// to its end with nothing left over.
func FuzzResponse(f *testing.F) {
	for _, seed := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-Trailer: 1\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\n\r\n",
		"HTTP/1.0 200 OK\r\n\r\nuntil close",
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"garbage",
		"",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, reply string) {
		client, server := net.Pipe()
		go func() {
			defer server.Close()
			br := bufio.NewReader(server)
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			io.WriteString(server, reply)
		}()
		used := false
		p := New(Options{
			ResponseHeaderTimeout: 2 * time.Second,
			Dial: func(context.Context) (net.Conn, error) {
				if used {
					return nil, io.EOF // one connection per input
				}
				used = true
				return client, nil
			},
		})
		defer p.Close()
		req, _ := http.NewRequest("POST", "http://receiver.test/", strings.NewReader("{}"))
		resp, _, err := p.RoundTrip(req)
		if err != nil {
			if p.Idle() != 0 {
				t.Fatalf("a failed round trip left %d pooled connections", p.Idle())
			}
			return
		}
		_, rerr := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if p.Idle() == 1 && (rerr != nil || resp.Close) {
			t.Fatalf("pooled after a body error %v or a close (%v)", rerr, resp.Close)
		}
	})
}
