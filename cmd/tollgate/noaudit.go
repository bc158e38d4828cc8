//go:build tollgate_bench_noaudit

package main

import (
	"github.com/tollgate-dev/tollgate/audit"
	"github.com/tollgate-dev/tollgate/proxy"
)

// proxyRecorder, in the benchmark build only (go build -tags
// tollgate_bench_noaudit, made by scripts/bench-audit-ab), records no proxy
// decisions, so the cost of auditing can be measured as a throughput ratio
// against the normal binary. Control-plane changes are still audited. No
// configuration can select this: a released binary always audits.
func proxyRecorder(*audit.Writer) proxy.Recorder { return nil }
