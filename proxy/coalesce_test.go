package proxy

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// writeLog is a net.Conn that records each Write as one element.
type writeLog struct {
	net.Conn
	writes []string
	read   bool
	closed bool
}

func (w *writeLog) Write(p []byte) (int, error) {
	w.writes = append(w.writes, string(p))
	return len(p), nil
}
func (w *writeLog) Read([]byte) (int, error) { w.read = true; return 0, nil }
func (w *writeLog) Close() error             { w.closed = true; return nil }

func TestCoalescingConn(t *testing.T) {
	big := strings.Repeat("x", maxCoalesce)
	tests := []struct {
		name string
		ops  func(c *coalescingConn)
		want []string // writes that reached the connection, in order
	}{
		{"not holding writes through", func(c *coalescingConn) {
			c.Write([]byte("a"))
			c.Write([]byte("b"))
		}, []string{"a", "b"}},
		{"held writes go out as one on release", func(c *coalescingConn) {
			c.hold()
			c.Write([]byte("head"))
			c.Write([]byte("body"))
			c.release()
			c.Write([]byte("after"))
		}, []string{"headbody", "after"}},
		{"a read sends what is held first", func(c *coalescingConn) {
			c.hold()
			c.Write([]byte("response"))
			c.Read(make([]byte, 1))
		}, []string{"response"}},
		{"close sends what is held", func(c *coalescingConn) {
			c.hold()
			c.Write([]byte("alert"))
			c.Close()
		}, []string{"alert"}},
		{"more than the bound goes out as written", func(c *coalescingConn) {
			c.hold()
			c.Write([]byte("head"))
			c.Write([]byte(big))
			c.Write([]byte("tail"))
			c.release()
		}, []string{"head", big, "tail"}},
		{"release with nothing held writes nothing", func(c *coalescingConn) {
			c.hold()
			c.release()
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := &writeLog{}
			c := &coalescingConn{Conn: log}
			tt.ops(c)
			if len(log.writes) != len(tt.want) {
				t.Fatalf("%d writes (%q), want %d", len(log.writes), abbreviate(log.writes), len(tt.want))
			}
			for i := range tt.want {
				if log.writes[i] != tt.want[i] {
					t.Fatalf("write %d = %q, want %q", i, abbreviate(log.writes[i:i+1]), abbreviate(tt.want[i:i+1]))
				}
			}
		})
	}
}

// TestCoalescingConnReplyHeader: the head goproxy writes to accept an
// intercepted CONNECT gets the reply header; nothing else is touched.
func TestCoalescingConnReplyHeader(t *testing.T) {
	const hdr = "Tollgate-Request-Id: req_1\r\n"
	tests := []struct {
		name   string
		writes []string
		want   []string
	}{
		{"CONNECT 200 gets the header", []string{"HTTP/1.1 200 OK\r\n\r\n", "tls"},
			[]string{"HTTP/1.1 200 OK\r\n" + hdr + "\r\n", "tls"}},
		{"HTTP/1.0 too", []string{"HTTP/1.0 200 OK\r\n\r\n"},
			[]string{"HTTP/1.0 200 OK\r\n" + hdr + "\r\n"}},
		{"only the first write", []string{"x", "HTTP/1.1 200 OK\r\n\r\n"},
			[]string{"x", "HTTP/1.1 200 OK\r\n\r\n"}},
		{"not a 200", []string{"HTTP/1.1 502 Bad Gateway\r\n\r\n"},
			[]string{"HTTP/1.1 502 Bad Gateway\r\n\r\n"}},
		{"a head with headers of its own", []string{"HTTP/1.1 200 OK\r\nA: b\r\n\r\n"},
			[]string{"HTTP/1.1 200 OK\r\nA: b\r\n\r\n"}},
		{"a status line alone", []string{"HTTP/1.1 200 OK\r\n"},
			[]string{"HTTP/1.1 200 OK\r\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := &writeLog{}
			c := &coalescingConn{Conn: log, replyHeader: hdr}
			for _, w := range tt.writes {
				if n, err := c.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", w, n, err)
				}
			}
			if fmt.Sprint(log.writes) != fmt.Sprint(tt.want) {
				t.Fatalf("writes %q, want %q", log.writes, tt.want)
			}
		})
	}
}

// abbreviate keeps failure messages short when a write is large.
func abbreviate(ws []string) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		if len(w) > 16 {
			w = fmt.Sprintf("%s…(%d bytes)", w[:16], len(w))
		}
		out[i] = w
	}
	return out
}

// blockingConn's Write blocks until unblock is closed; Read returns at once.
type blockingConn struct {
	net.Conn
	unblock chan struct{}
	writing chan struct{}
}

func (b *blockingConn) Write(p []byte) (int, error) {
	close(b.writing)
	<-b.unblock
	return len(p), nil
}
func (b *blockingConn) Read([]byte) (int, error) { return 0, nil }

// TestCoalescingConnStreamsBothWays: on an upgraded connection (nothing
// held) a write blocked on a slow peer must not block reads, or two peers
// that both write before reading would deadlock.
func TestCoalescingConnStreamsBothWays(t *testing.T) {
	bc := &blockingConn{unblock: make(chan struct{}), writing: make(chan struct{})}
	defer close(bc.unblock)
	c := &coalescingConn{Conn: bc}
	c.hold()
	if err := c.release(); err != nil { // a previous response, long done
		t.Fatal(err)
	}
	go c.Write([]byte("frame"))
	<-bc.writing
	read := make(chan struct{})
	go func() {
		c.Read(make([]byte, 1))
		close(read)
	}()
	select {
	case <-read:
	case <-time.After(5 * time.Second):
		t.Fatal("Read blocked behind a blocked Write")
	}
}
