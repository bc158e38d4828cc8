package cli

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// flagSet wraps flag.FlagSet: usage goes to stderr, errors become usage
// errors, and flags may follow positional arguments ("key revoke ID --tenant T").
type flagSet struct {
	*flag.FlagSet
	r    *runner
	json bool
	help func()
}

func (r *runner) flags(name, positional, summary string) *flagSet {
	fs := &flagSet{FlagSet: flag.NewFlagSet("tollgate "+name, flag.ContinueOnError), r: r}
	fs.SetOutput(io.Discard)
	fs.BoolVar(&fs.json, "json", false, "print JSON instead of a table")
	// flag calls Usage on every parse error too; keep errors to one line
	// and print the full usage only for -h.
	fs.Usage = func() {}
	fs.help = func() {
		fmt.Fprintf(r.stderr, "usage: tollgate %s [flags] %s\n%s\n\nflags:\n", name, positional, summary)
		fs.SetOutput(r.stderr)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs
}

// parse parses args allowing flags after positional arguments and returns
// the positional ones; want is how many are required (-1: any number).
func (fs *flagSet) parse(args []string, want int) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.help()
				return nil, flag.ErrHelp
			}
			return nil, usagef("%s: %v; run 'tollgate %s -h' for the flags", strings.TrimPrefix(fs.Name(), "tollgate "), err, strings.TrimPrefix(fs.Name(), "tollgate "))
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		if args[0] == "--" {
			pos = append(pos, args[1:]...)
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if want >= 0 && len(pos) != want {
		name := strings.TrimPrefix(fs.Name(), "tollgate ")
		if len(pos) < want {
			return nil, usagef("%s: missing argument; run 'tollgate %s -h' for usage", name, name)
		}
		return nil, usagef("%s: unexpected argument %q; run 'tollgate %s -h' for usage", name, pos[want], name)
	}
	return pos, nil
}

// set reports whether the named flag was given on the command line.
func (fs *flagSet) set(name string) bool {
	found := false
	fs.Visit(func(f *flag.Flag) { found = found || f.Name == name })
	return found
}

// required returns a usage error if a string flag is empty.
func (fs *flagSet) required(name, value string) error {
	if value == "" {
		cmd := strings.TrimPrefix(fs.Name(), "tollgate ")
		return usagef("%s needs --%s; run 'tollgate %s -h' for usage", cmd, name, cmd)
	}
	return nil
}

// listFlag is a comma-separated list; "" sets an empty list.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	*l = []string{}
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			*l = append(*l, part)
		}
	}
	return nil
}

// portsFlag is a comma-separated list of ports.
type portsFlag []uint16

func (p *portsFlag) String() string {
	parts := make([]string, len(*p))
	for i, v := range *p {
		parts[i] = strconv.Itoa(int(v))
	}
	return strings.Join(parts, ",")
}

func (p *portsFlag) Set(s string) error {
	*p = []uint16{}
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		n, err := strconv.Atoi(part)
		if err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("invalid port %q: must be between 1 and 65535", part)
		}
		*p = append(*p, uint16(n))
	}
	return nil
}

// durationFlag refuses negative durations, which no command accepts.
type durationFlag time.Duration

func (d *durationFlag) String() string { return time.Duration(*d).String() }

func (d *durationFlag) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("invalid duration %q: use Go syntax such as 30m, 24h or 168h", s)
	}
	if v < 0 {
		return fmt.Errorf("duration %q must not be negative", s)
	}
	*d = durationFlag(v)
	return nil
}

// printJSON writes v indented, the --json form of every command.
func (r *runner) printJSON(v any) error {
	enc := json.NewEncoder(r.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write JSON: %w", err)
	}
	return nil
}

func (d durationFlag) duration() time.Duration { return time.Duration(d) }
