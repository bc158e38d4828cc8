package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/control/client"
)

// Exit codes (SPEC §1).
const (
	ExitOK      = 0
	ExitFailure = 1 // runtime failure, including verify: invalid
	ExitUsage   = 2 // usage or configuration error
)

// Defaults for reaching the control API.
const (
	DefaultURL     = "http://127.0.0.1:9090"
	DefaultDataDir = "./tollgate-data"
)

// Run executes one client subcommand: args[0] is "config", "tenant", "key",
// "signing-key", "audit" or "verify". env looks up environment variables
// (os.Getenv in the binary). It returns the process exit code.
func Run(ctx context.Context, args []string, env func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	r := &runner{env: env, stdin: stdin, stdout: stdout, stderr: stderr, now: time.Now}
	return r.run(ctx, args)
}

// runner carries one invocation's inputs and outputs; now and hc are
// replaced in tests.
type runner struct {
	env            func(string) string
	stdin          io.Reader
	stdout, stderr io.Writer
	now            func() time.Time
	hc             *http.Client
}

type command struct {
	summary string
	run     func(ctx context.Context, r *runner, args []string) error
}

// commands are the top-level client subcommands; groups dispatch again on
// their own first argument.
func commands() map[string]command {
	return map[string]command{
		"config":      {"validate a configuration file", runConfig},
		"tenant":      {"create, list, get, update or delete tenants", runTenant},
		"key":         {"create, list, revoke or rotate API keys", runKey},
		"signing-key": {"list or rotate signing keys, show a receiver's secret", runSigningKey},
		"audit":       {"list, export or verify the audit trail", runAudit},
		"verify":      {"verify a signed delivery read from stdin", runVerify},
	}
}

// Commands lists the subcommand names Run accepts, for the binary's usage text.
func Commands() []string {
	var names []string
	for n := range commands() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (r *runner) run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		return r.report(usagef("missing subcommand; use one of: %s", strings.Join(Commands(), ", ")))
	}
	cmd, ok := commands()[args[0]]
	if !ok {
		return r.report(usagef("unknown subcommand %q; use one of: %s", args[0], strings.Join(Commands(), ", ")))
	}
	return r.report(cmd.run(ctx, r, args[1:]))
}

// usageError is a mistake in the command line or configuration: exit 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// exitError carries an exit code for an outcome already printed (verify:
// invalid, audit verify: broken chain).
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// report prints err as one sentence on stderr and maps it to an exit code.
func (r *runner) report(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(r.stderr, "tollgate: %s\n", ue.msg)
		return ExitUsage
	}
	fmt.Fprintf(r.stderr, "tollgate: %s\n", err)
	return ExitFailure
}

// group dispatches a command group such as "tenant create".
func group(ctx context.Context, r *runner, name string, args []string, subs map[string]func(context.Context, *runner, []string) error) error {
	var names []string
	for n := range subs {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintf(r.stderr, "usage: tollgate %s %s ...\n", name, strings.Join(names, "|"))
		if len(args) == 0 {
			return usagef("%s needs a subcommand: %s", name, strings.Join(names, ", "))
		}
		return flag.ErrHelp
	}
	sub, ok := subs[args[0]]
	if !ok {
		return usagef("unknown subcommand %q for %s; use one of: %s", args[0], name, strings.Join(names, ", "))
	}
	return sub(ctx, r, args[1:])
}

// client builds a control-API client from TOLLGATE_URL and the token.
func (r *runner) client() (*client.Client, string, error) {
	base := r.env("TOLLGATE_URL")
	if base == "" {
		base = DefaultURL
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, "", usagef("TOLLGATE_URL %q is not an http:// or https:// URL; set it to the control listener, e.g. %s", base, DefaultURL)
	}
	token, err := r.token()
	if err != nil {
		return nil, "", err
	}
	return client.New(base, token, r.hc), base, nil
}

// token is TOLLGATE_TOKEN, else TOLLGATE_ADMIN_TOKEN (what serve itself
// would use), else the admin token file serve writes into its data dir.
func (r *runner) token() (string, error) {
	for _, name := range []string{"TOLLGATE_TOKEN", "TOLLGATE_ADMIN_TOKEN"} {
		if t := strings.TrimSpace(r.env(name)); t != "" {
			return t, nil
		}
	}
	dir := r.env("TOLLGATE_DATA_DIR")
	if dir == "" {
		dir = DefaultDataDir
	}
	path := filepath.Join(dir, "admin.token")
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", usagef("no control API token: set TOLLGATE_TOKEN, or TOLLGATE_DATA_DIR to the data directory holding admin.token (looked for %s)", path)
		}
		return "", usagef("cannot read the admin token file %s (%v); set TOLLGATE_TOKEN instead", path, errors.Unwrap(err))
	}
	t := strings.TrimSpace(string(b))
	if t == "" {
		return "", usagef("the admin token file %s is empty; set TOLLGATE_TOKEN instead", path)
	}
	return t, nil
}

// apiError turns a control-API failure into one sentence that says what to do.
func apiError(base string, err error) error {
	var p *client.Problem
	if errors.As(err, &p) {
		msg := p.Title
		if p.Detail != "" {
			msg = p.Detail
		}
		for _, fe := range p.Errors {
			msg += fmt.Sprintf("; %s: %s", fe.Field, fe.Message)
		}
		switch p.Status {
		case http.StatusUnauthorized:
			return fmt.Errorf("the control API at %s rejected the token (%s); set TOLLGATE_TOKEN to a valid key", base, msg)
		case http.StatusForbidden:
			return fmt.Errorf("the token lacks the scope for this request (%s); use a key with the needed control scope", msg)
		case http.StatusNotFound:
			return fmt.Errorf("not found (%s); check the tenant and id", msg)
		}
		if p.Status >= 500 {
			return fmt.Errorf("the control API failed with %d %s (%s); check the server's log", p.Status, http.StatusText(p.Status), msg)
		}
		if p.Status != http.StatusBadRequest && p.Status != http.StatusUnprocessableEntity {
			return fmt.Errorf("the control API refused the request with %d %s (%s)", p.Status, http.StatusText(p.Status), msg)
		}
		return usagef("the control API refused the request with %d %s (%s); fix the arguments and retry", p.Status, http.StatusText(p.Status), msg)
	}
	var ne net.Error
	var oe *net.OpError
	if errors.As(err, &oe) || errors.As(err, &ne) {
		return fmt.Errorf("cannot reach the control API at %s (%v); start `tollgate serve` or set TOLLGATE_URL", base, err)
	}
	return fmt.Errorf("control API at %s: %w", base, err)
}
