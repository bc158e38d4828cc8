// Command auditloss measures what `kill -9` loses from the batched audit
// writer. For each audit.flush_interval it starts tollgate on a fresh data
// dir, drives -n refused CONNECTs (forbidden_port, each acknowledged by
// its 403 response) from -c clients, sends SIGKILL either immediately
// after the last acknowledgement or after waiting 2×flush_interval,
// restarts the same data dir and counts the stored proxy events of tenant
// "default" through GET /v1/audit (limit 500, following next_cursor).
// lost = acknowledged − stored. Run it with scripts/bench-auditloss.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate-dev/tollgate/bench/internal/tgbench"
)

func main() {
	bin := flag.String("bin", "bin/tollgate", "tollgate binary")
	n := flag.Int("n", 3000, "refused CONNECTs per run")
	c := flag.Int("c", 8, "concurrent clients")
	flushes := flag.String("flush", "50ms,200ms,1s", "audit.flush_interval values")
	flag.Parse()
	fmt.Printf("load average at start: %s\n\n", tgbench.Uptime())
	fmt.Printf("| flush_interval | kill -9 at | acknowledged | stored | lost | drive rate (ack/s) |\n|---|---|---|---|---|---|\n")
	for _, f := range strings.Split(*flushes, ",") {
		fi, err := time.ParseDuration(f)
		if err != nil {
			fmt.Fprintln(os.Stderr, "auditloss:", err)
			os.Exit(2)
		}
		for _, wait := range []time.Duration{0, 2 * fi} {
			if err := once(*bin, fi, wait, *n, *c); err != nil {
				fmt.Fprintln(os.Stderr, "auditloss:", err)
				os.Exit(1)
			}
		}
	}
	fmt.Printf("\nload average at end: %s\n", tgbench.Uptime())
}

func once(bin string, flush, wait time.Duration, n, c int) error {
	dir, err := os.MkdirTemp("", "tollgate-auditloss")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfg := fmt.Sprintf("audit:\n  flush_interval: %s\nlog:\n  level: error\n", flush)
	in, err := tgbench.Start(bin, dir, "  require_auth: false\n", cfg, nil)
	if err != nil {
		return err
	}
	var next, acked atomic.Int64
	var lastAck atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range c {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				if refusedConnect(in.ProxyAddr) {
					acked.Add(1)
					lastAck.Store(time.Now().UnixNano())
				}
			}
		})
	}
	wg.Wait()
	el := time.Since(start)
	if wait > 0 {
		time.Sleep(wait)
	}
	in.Kill()
	killedAfter := time.Since(time.Unix(0, lastAck.Load()))
	if err := in.Restart(bin); err != nil {
		return err
	}
	defer in.Stop()
	stored, err := countProxyEvents(in, "default")
	if err != nil {
		return err
	}
	when := fmt.Sprintf("%v after last ack", killedAfter.Round(time.Millisecond))
	fmt.Printf("| %v | %s | %d | %d | %d | %.0f |\n", flush, when, acked.Load(), stored, acked.Load()-int64(stored), float64(acked.Load())/el.Seconds())
	return nil
}

// refusedConnect sends CONNECT to a port outside allowed_ports and reports
// whether the 403 forbidden_port came back.
func refusedConnect(proxy string) bool {
	conn, err := net.Dial("tcp", proxy)
	if err != nil {
		return false
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintf(conn, "CONNECT bench.test:25 HTTP/1.1\r\nHost: bench.test:25\r\n\r\n"); err != nil {
		return false
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: http.MethodConnect})
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 403 && resp.Header.Get("Tollgate-Reason") == "forbidden_port"
}

func countProxyEvents(in *tgbench.Instance, tenant string) (int, error) {
	n, cursor := 0, ""
	for {
		var page struct {
			Items []struct {
				Action string `json:"action"`
			} `json:"items"`
			NextCursor string `json:"next_cursor"`
		}
		q := "/v1/audit?tenant=" + url.QueryEscape(tenant) + "&limit=500"
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		if _, err := in.API("GET", q, nil, &page); err != nil {
			return n, err
		}
		for _, e := range page.Items {
			if strings.HasPrefix(e.Action, "proxy.") {
				n++
			}
		}
		if page.NextCursor == "" {
			return n, nil
		}
		cursor = page.NextCursor
	}
}
