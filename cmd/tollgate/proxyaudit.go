//go:build !tollgate_bench_noaudit

package main

import (
	"github.com/tollgate-dev/tollgate/audit"
	"github.com/tollgate-dev/tollgate/proxy"
)

// proxyRecorder is the proxy's audit recorder. Every build records every
// proxy decision; only the benchmark variant (noaudit.go) differs.
func proxyRecorder(w *audit.Writer) proxy.Recorder { return w }
