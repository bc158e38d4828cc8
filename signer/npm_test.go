package signer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The cross-check runs the reference JavaScript library (npm standardwebhooks,
// pinned in e2e/package-lock.json) on deliveries signed here. CI installs it
// with `npm ci` in e2e/ and sets TOLLGATE_REQUIRE_NPM=1 so that a missing
// install fails instead of passing silently.
const (
	npmModuleDir = "../e2e/node_modules/standardwebhooks"
	npmScript    = "../e2e/verify-standardwebhooks.mjs"
)

type npmDelivery struct {
	Secret  string            `json:"secret"`
	Headers map[string]string `json:"headers"`
	Body    string            `json:"body"`
	Now     *int64            `json:"now,omitempty"`
}

type npmCase struct {
	name    string
	secrets []string // each must verify on its own
	keys    [][]byte // signing keys, newest first
	id      string
	ts      int64
	body    string
	pinned  bool // pin the library's clock to ts
}

func requireNode(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(npmModuleDir); err != nil {
		if os.Getenv("TOLLGATE_REQUIRE_NPM") == "1" {
			t.Fatalf("npm cross-check required but %s is missing: run `npm ci` in e2e/ (%v)", npmModuleDir, err)
		}
		t.Skipf("npm cross-check skipped: %s is missing; run `npm ci` in e2e/ (CI sets TOLLGATE_REQUIRE_NPM=1 to make this an error)", npmModuleDir)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("e2e/node_modules is installed but node is not on PATH: %v", err)
	}
	return node
}

// runNode verifies ds in one node process and returns one result line per
// delivery ("ok" or the library's error).
func runNode(t *testing.T, node string, ds []npmDelivery) []string {
	t.Helper()
	in, err := json.Marshal(ds)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Base(npmScript))
	cmd.Dir = filepath.Dir(npmScript)
	cmd.Stdin = bytes.NewReader(in)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); err != nil && (!ok || ee.ExitCode() != 1) {
		t.Fatalf("node %s: %v: %s%s", npmScript, err, out.String(), stderr.String())
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != len(ds) {
		t.Fatalf("node printed %d lines for %d deliveries: %q", len(lines), len(ds), out.String())
	}
	if allOK := !slices.ContainsFunc(lines, func(l string) bool { return l != "ok" }); allOK != (err == nil) {
		t.Fatalf("node exit status %v disagrees with its output %q", err, out.String())
	}
	return lines
}

func npmCases(t *testing.T) []npmCase {
	vf := loadVectors(t)
	var cases []npmCase
	for _, v := range vf.Sign {
		cases = append(cases, npmCase{
			name: "golden/" + v.Name, secrets: v.Secrets, keys: mustParseSecrets(t, v.Secrets),
			id: v.ID, ts: v.Timestamp, body: v.Body, pinned: true,
		})
	}
	for _, v := range vf.Derive {
		tenant := mustParseSecrets(t, []string{v.TenantSecret})[0]
		cases = append(cases, npmCase{
			name: "golden host/" + v.Name, secrets: []string{v.Secret}, keys: [][]byte{DeriveHostKey(tenant, v.Host)},
			id: v.ID, ts: v.Timestamp, body: v.Body, pinned: true,
		})
	}

	// Fresh keys, ids and the real clock: what the proxy sends right now.
	now := time.Now()
	newKey, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	oldKey, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	host := DeriveHostKey(newKey, "Hooks.Example.COM")
	cases = append(cases,
		npmCase{"live/primary", []string{FormatSecret(newKey)}, [][]byte{newKey}, NewMessageID(now), now.Unix(), `{"type":"ping"}`, false},
		npmCase{"live/rotation", []string{FormatSecret(newKey), FormatSecret(oldKey)}, [][]byte{newKey, oldKey}, NewMessageID(now), now.Unix(), `{"type":"rotated"}`, false},
		npmCase{"live/host-derived", []string{FormatSecret(host)}, [][]byte{host}, NewMessageID(now), now.Unix(), "plain text, not JSON", false},
	)
	return cases
}

func TestNPMStandardWebhooksAcceptsOurSignatures(t *testing.T) {
	node := requireNode(t)
	type check struct {
		name   string
		accept bool
	}
	var checks []check
	var batch []npmDelivery
	for _, c := range npmCases(t) {
		headers := map[string]string{
			HeaderID:        c.id,
			HeaderTimestamp: strconv.FormatInt(c.ts, 10),
			HeaderSignature: SignatureHeader(c.keys, c.id, c.ts, []byte(c.body)),
		}
		var now *int64
		if c.pinned {
			now = &c.ts
		}
		for i, secret := range c.secrets {
			checks = append(checks, check{fmt.Sprintf("%s/secret %d", c.name, i), true})
			batch = append(batch, npmDelivery{Secret: secret, Headers: headers, Body: c.body, Now: now})
		}
		checks = append(checks, check{c.name + "/modified body", false})
		batch = append(batch, npmDelivery{Secret: c.secrets[0], Headers: headers, Body: c.body + " ", Now: now})
	}
	for i, line := range runNode(t, node, batch) {
		t.Run(checks[i].name, func(t *testing.T) {
			switch {
			case checks[i].accept && line != "ok":
				t.Fatalf("standardwebhooks rejected a valid delivery: %s", line)
			case !checks[i].accept && !strings.Contains(line, "No matching signature"):
				t.Fatalf("standardwebhooks said %q, want a signature mismatch", line)
			}
		})
	}
}
