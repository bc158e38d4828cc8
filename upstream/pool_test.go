package upstream

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// rawServer accepts loopback connections and hands each to serve with a
// reader over it; accepted counts connections.
type rawServer struct {
	ln       net.Listener
	accepted atomic.Int64
}

func newRawServer(t testing.TB, serve func(n int64, c net.Conn, br *bufio.Reader)) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawServer{ln: ln}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n := s.accepted.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				serve(n, c, bufio.NewReader(c))
			}()
		}
	}()
	return s
}

// keepAlive answers every request on a connection with body, keeping it open.
func keepAlive(body string) func(int64, net.Conn, *bufio.Reader) {
	return func(_ int64, c net.Conn, br *bufio.Reader) {
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			io.Copy(io.Discard, req.Body)
			if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+body); err != nil {
				return
			}
		}
	}
}

func (s *rawServer) pool(t testing.TB, o Options) (*Pool, *atomic.Int64) {
	t.Helper()
	var dials atomic.Int64
	addr := s.ln.Addr().String()
	o.Dial = func(ctx context.Context) (net.Conn, error) {
		dials.Add(1)
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}
	p := New(o)
	t.Cleanup(p.Close)
	return p, &dials
}

func newReq(t *testing.T, method, body string) *http.Request {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, "http://receiver.test/hook?x=1", r)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// do sends one request and reads its body to the end.
func do(t *testing.T, p *Pool, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, _, err := p.RoundTrip(req)
	if err != nil {
		t.Fatalf("%s: %v", req.Method, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp, string(b)
}

func TestReuse(t *testing.T) {
	cases := []struct {
		name   string
		reply  string // raw response to every request
		method string
		reuse  bool
		closes bool // the server closes after answering, as the reply says
	}{
		{"content-length", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", "POST", true, false},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", "POST", true, false},
		{"no content", "HTTP/1.1 204 No Content\r\n\r\n", "POST", true, false},
		{"head", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", "HEAD", true, false},
		{"server closes", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", "POST", false, true},
		{"http/1.0", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", "POST", false, true},
		{"body until close", "HTTP/1.1 200 OK\r\n\r\nok", "GET", false, true},
		// The connection stays open, but its next response would start
		// with someone else's bytes.
		{"bytes after body", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokJUNK", "POST", false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newRawServer(t, func(_ int64, c net.Conn, br *bufio.Reader) {
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					if _, err := io.WriteString(c, tc.reply); err != nil {
						return
					}
					if tc.closes {
						return
					}
				}
			})
			p, dials := s.pool(t, Options{})
			for range 3 {
				do(t, p, newReq(t, tc.method, "{}"))
			}
			want := int64(3)
			if tc.reuse {
				want = 1
			}
			if got := dials.Load(); got != want {
				t.Errorf("dials = %d, want %d", got, want)
			}
		})
	}
}

func TestEarlyCloseDiscardsConnection(t *testing.T) {
	s := newRawServer(t, keepAlive(strings.Repeat("x", 1<<16)))
	p, dials := s.pool(t, Options{})
	resp, _, err := p.RoundTrip(newReq(t, "GET", ""))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := resp.Body.Read(make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close() // most of the body is still on the wire
	if n := p.Idle(); n != 0 {
		t.Fatalf("idle = %d after an unfinished body, want 0", n)
	}
	do(t, p, newReq(t, "GET", ""))
	if got := dials.Load(); got != 2 {
		t.Errorf("dials = %d, want 2", got)
	}
}

// A receiver that closed an idle connection is noticed before the next
// request is written to it, so even a POST goes out exactly once.
func TestStaleIdleConnectionIsNotUsed(t *testing.T) {
	var got atomic.Int64
	closed := make(chan struct{}, 2)
	s := newRawServer(t, func(_ int64, c net.Conn, br *bufio.Reader) {
		defer func() { closed <- struct{}{} }()
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		io.Copy(io.Discard, req.Body)
		got.Add(1)
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		c.Close() // without Connection: close, as an idle timeout would
	})
	p, dials := s.pool(t, Options{})
	do(t, p, newReq(t, "POST", "a"))
	<-closed
	time.Sleep(20 * time.Millisecond) // the FIN crosses loopback
	if p.Idle() != 1 {
		t.Fatalf("idle = %d, want the closed connection still pooled", p.Idle())
	}
	do(t, p, newReq(t, "POST", "b"))
	if got.Load() != 2 || dials.Load() != 2 {
		t.Errorf("server saw %d requests over %d dials, want 2 and 2", got.Load(), dials.Load())
	}
}

// When a reused connection dies after the request went out, a POST is not
// sent again (the receiver may have acted on it); a GET is.
func TestRetryOnlyReplayable(t *testing.T) {
	cases := []struct {
		method  string
		header  string
		retried bool
	}{
		{"POST", "", false},
		{"POST", "Idempotency-Key", true},
		{"GET", "", true},
		{"PUT", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.method+tc.header, func(t *testing.T) {
			var seen atomic.Int64
			s := newRawServer(t, func(n int64, c net.Conn, br *bufio.Reader) {
				for i := 0; ; i++ {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					seen.Add(1)
					if n == 1 && i == 1 {
						return // the second request on the first connection: close, no answer
					}
					io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
				}
			})
			p, _ := s.pool(t, Options{})
			do(t, p, newReq(t, tc.method, "first"))
			req := newReq(t, tc.method, "second")
			if tc.header != "" {
				req.Header.Set(tc.header, "k1")
			}
			resp, _, err := p.RoundTrip(req)
			if tc.retried {
				if err != nil {
					t.Fatalf("want a retried success, got %v", err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(b) != "ok" {
					t.Errorf("body %q", b)
				}
				if seen.Load() != 3 {
					t.Errorf("server saw %d requests, want 3", seen.Load())
				}
				return
			}
			if err == nil {
				resp.Body.Close()
				t.Fatal("want an error, not a retry")
			}
			if seen.Load() != 2 {
				t.Errorf("server saw %d requests, want 2 (no retry)", seen.Load())
			}
		})
	}
}

func TestInformationalResponses(t *testing.T) {
	cases := []struct {
		name    string
		reply   string
		wantErr bool
	}{
		{"100 and 103 skipped", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok", false},
		{"101 refused", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n", true},
		{"endless 1xx", strings.Repeat("HTTP/1.1 102 Processing\r\n\r\n", 10), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newRawServer(t, func(_ int64, c net.Conn, br *bufio.Reader) {
				if req, err := http.ReadRequest(br); err == nil {
					io.Copy(io.Discard, req.Body)
					io.WriteString(c, tc.reply)
					io.Copy(io.Discard, br)
				}
			})
			p, _ := s.pool(t, Options{})
			resp, _, err := p.RoundTrip(newReq(t, "POST", "{}"))
			if tc.wantErr {
				if err == nil {
					resp.Body.Close()
					t.Fatal("want an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != 201 {
				t.Errorf("status %d, want 201", resp.StatusCode)
			}
		})
	}
}

// Invalid header fields are refused before anything is sent, as Transport
// refuses them, rather than dropped or rewritten by Request.Write.
func TestInvalidHeaderRefused(t *testing.T) {
	for _, tt := range []struct{ name, key, value string }{
		{"name with a space", "Bad Name", "v"},
		{"name with a colon", "a:b", "v"},
		{"value with a newline", "X-A", "v\r\nInjected: 1"},
		{"value with NUL", "X-A", "v\x00"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newRawServer(t, keepAlive("ok"))
			p, dials := s.pool(t, Options{})
			req := newReq(t, "POST", "{}")
			req.Header[tt.key] = []string{tt.value}
			if _, _, err := p.RoundTrip(req); !errors.Is(err, ErrInvalidHeader) {
				t.Fatalf("err = %v, want ErrInvalidHeader", err)
			}
			if dials.Load() != 0 {
				t.Errorf("dialled %d times for a refused request", dials.Load())
			}
		})
	}
}

// A receiver cannot grow the proxy's memory with an endless response head.
func TestMaxHeaderBytes(t *testing.T) {
	s := newRawServer(t, func(_ int64, c net.Conn, br *bufio.Reader) {
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\n")
		line := "X-Filler: " + strings.Repeat("a", 1000) + "\r\n"
		for {
			if _, err := io.WriteString(c, line); err != nil {
				return
			}
		}
	})
	p, _ := s.pool(t, Options{MaxHeaderBytes: 64 << 10})
	_, _, err := p.RoundTrip(newReq(t, "GET", ""))
	if !errors.Is(err, errHeaderTooLarge) {
		t.Fatalf("err = %v, want the header limit", err)
	}
	// A head under the limit, then a body larger than it, is fine.
	s2 := newRawServer(t, keepAlive(strings.Repeat("b", 200<<10)))
	p2, _ := s2.pool(t, Options{MaxHeaderBytes: 64 << 10})
	if _, body := do(t, p2, newReq(t, "GET", "")); len(body) != 200<<10 {
		t.Fatalf("body %d bytes", len(body))
	}
	if _, body := do(t, p2, newReq(t, "GET", "")); len(body) != 200<<10 {
		t.Fatalf("second body %d bytes", len(body))
	}
}

func TestResponseHeaderTimeout(t *testing.T) {
	s := newRawServer(t, func(n int64, c net.Conn, br *bufio.Reader) {
		if n == 1 { // the first connection answers once, then goes silent
			if req, err := http.ReadRequest(br); err == nil {
				io.Copy(io.Discard, req.Body)
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			}
		}
		io.Copy(io.Discard, br) // reads, never answers
	})
	p, dials := s.pool(t, Options{ResponseHeaderTimeout: 100 * time.Millisecond})
	do(t, p, newReq(t, "GET", ""))
	start := time.Now()
	// A GET on the reused connection times out and is not retried: the
	// caller waits one timeout, not two.
	_, _, err := p.RoundTrip(newReq(t, "GET", ""))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("err = %v, want a timeout", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("took %v", el)
	}
	if d := dials.Load(); d != 1 {
		t.Errorf("dials = %d, want 1 (no retry after a timeout)", d)
	}
}

// A receiver that stops reading does not hold a large request forever.
func TestStalledWriteTimesOut(t *testing.T) {
	hold := make(chan struct{})
	s := newRawServer(t, func(_ int64, c net.Conn, br *bufio.Reader) {
		<-hold // never reads
	})
	defer close(hold)
	p, _ := s.pool(t, Options{ResponseHeaderTimeout: 200 * time.Millisecond})
	big := strings.Repeat("x", 64<<20) // beyond any socket buffer
	start := time.Now()
	_, _, err := p.RoundTrip(newReq(t, "POST", big))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("err = %v, want a timeout", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("took %v", el)
	}
}

func TestContextCancel(t *testing.T) {
	s := newRawServer(t, func(_ int64, c net.Conn, br *bufio.Reader) {
		io.Copy(io.Discard, br)
	})
	p, _ := s.pool(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, _, err := p.RoundTrip(newReq(t, "GET", "").WithContext(ctx))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

// A connection whose context ended while its body was read is not pooled:
// its deadline was set in the past.
func TestContextEndedDuringBody(t *testing.T) {
	s := newRawServer(t, keepAlive("ok"))
	p, dials := s.pool(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	resp, _, err := p.RoundTrip(newReq(t, "GET", "").WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	time.Sleep(10 * time.Millisecond)
	io.ReadAll(resp.Body)
	resp.Body.Close()
	do(t, p, newReq(t, "GET", ""))
	if dials.Load() != 2 {
		t.Errorf("dials = %d, want 2", dials.Load())
	}
}

func TestIdleTimeoutAndMaxIdle(t *testing.T) {
	s := newRawServer(t, keepAlive("ok"))
	p, _ := s.pool(t, Options{IdleTimeout: 80 * time.Millisecond, MaxIdle: 2})
	var wg sync.WaitGroup
	start := make(chan struct{})
	resps := make(chan *http.Response, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp, _, err := p.RoundTrip(newReq(t, "GET", ""))
			if err != nil {
				t.Error(err)
				return
			}
			resps <- resp
		}()
	}
	close(start)
	wg.Wait()
	close(resps)
	for resp := range resps { // four connections in use at once
		io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if n := p.Idle(); n != 2 {
		t.Fatalf("idle = %d, want MaxIdle 2", n)
	}
	deadline := time.Now().Add(3 * time.Second)
	for p.Idle() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := p.Idle(); n != 0 {
		t.Fatalf("idle = %d after the idle timeout, want 0", n)
	}
}

func TestClose(t *testing.T) {
	s := newRawServer(t, keepAlive("ok"))
	p, dials := s.pool(t, Options{})
	do(t, p, newReq(t, "GET", ""))
	resp, _, err := p.RoundTrip(newReq(t, "GET", "")) // in use across Close
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	io.ReadAll(resp.Body)
	resp.Body.Close()
	if n := p.Idle(); n != 0 {
		t.Errorf("idle = %d after Close, want 0", n)
	}
	do(t, p, newReq(t, "GET", ""))
	if n := p.Idle(); n != 0 {
		t.Errorf("idle = %d after a round trip on a closed pool, want 0", n)
	}
	if d := dials.Load(); d != 2 {
		t.Errorf("dials = %d, want 2 (one before Close, one after)", d)
	}
}

// The request bytes are what net/http.Transport writes for the same request.
func TestWireMatchesTransport(t *testing.T) {
	capture := func(send func(addr string)) []byte {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		got := make(chan []byte, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				got <- nil
				return
			}
			defer c.Close()
			br := bufio.NewReader(c)
			req, err := http.ReadRequest(br)
			if err != nil {
				got <- nil
				return
			}
			var raw bytes.Buffer
			req.Write(&raw) // re-serialise for the comparison below
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
			got <- raw.Bytes()
		}()
		send(ln.Addr().String())
		return <-got
	}
	mk := func(addr string) *http.Request {
		req, _ := http.NewRequest("POST", "http://"+addr+"/hook?a=b", strings.NewReader(`{"k":1}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("webhook-id", "msg_1")
		return req
	}
	viaTransport := capture(func(addr string) {
		tr := &http.Transport{DisableCompression: true}
		defer tr.CloseIdleConnections()
		resp, err := tr.RoundTrip(mk(addr))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	})
	viaPool := capture(func(addr string) {
		p := New(Options{Dial: func(ctx context.Context) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", addr)
		}})
		defer p.Close()
		resp, _, err := p.RoundTrip(mk(addr))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	})
	// Host differs by port only; compare with it removed.
	strip := func(b []byte) string {
		var out []string
		for _, l := range strings.Split(string(b), "\r\n") {
			if !strings.HasPrefix(l, "Host: ") {
				out = append(out, l)
			}
		}
		return strings.Join(out, "\r\n")
	}
	if strip(viaTransport) != strip(viaPool) {
		t.Errorf("request differs\ntransport:\n%s\npool:\n%s", viaTransport, viaPool)
	}
}

func TestConcurrentRoundTrips(t *testing.T) {
	s := newRawServer(t, keepAlive("ok"))
	p, dials := s.pool(t, Options{MaxIdle: 8})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				resp, _, err := p.RoundTrip(newReq(t, "POST", "{}"))
				if err != nil {
					t.Error(err)
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(b) != "ok" {
					t.Errorf("body %q", b)
					return
				}
			}
		}()
	}
	wg.Wait()
	if d := dials.Load(); d > 8 {
		t.Errorf("dials = %d for 8 concurrent clients, want at most 8", d)
	}
}

// BenchmarkRoundTrip compares a Pool with net/http.Transport for the same
// keep-alive POST to an in-process loopback receiver (whose cost is in both
// figures): go test -bench RoundTrip -benchmem ./upstream
func BenchmarkRoundTrip(b *testing.B) {
	s := newRawServer(b, keepAlive("ok"))
	addr := s.ln.Addr().String()
	body := bytes.Repeat([]byte("x"), 1024)
	mk := func() *http.Request {
		req, _ := http.NewRequest("POST", "http://"+addr+"/hook", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		return req
	}
	run := func(b *testing.B, rt func(*http.Request) (*http.Response, error)) {
		b.ReportAllocs()
		for b.Loop() {
			resp, err := rt(mk())
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	b.Run("pool", func(b *testing.B) {
		p, _ := s.pool(b, Options{})
		run(b, func(r *http.Request) (*http.Response, error) {
			resp, _, err := p.RoundTrip(r)
			return resp, err
		})
	})
	b.Run("transport", func(b *testing.B) {
		tr := &http.Transport{DisableCompression: true}
		defer tr.CloseIdleConnections()
		run(b, tr.RoundTrip)
	})
}
