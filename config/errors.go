package config

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Error is one rejected part of a configuration file.
type Error struct {
	File string // file name as given to Load or Parse; empty for a Config built in code
	Line int    // 1-based; 0 when unknown
	Key  string // dotted path such as egress.allow_cidrs[1]; empty for a whole-file problem
	Msg  string
}

// Error renders "file:line: key: msg", leaving out the parts that are unknown.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteString(":" + strconv.Itoa(e.Line))
		}
		b.WriteString(": ")
	} else if e.Line > 0 {
		b.WriteString("line " + strconv.Itoa(e.Line) + ": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is every problem found in one file, in line order. errors.As finds
// the individual *Error values through Unwrap.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap exposes each *Error to errors.Is and errors.As.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// err returns nil for no errors, the single *Error for one, Errors otherwise,
// so callers can switch on the common single-error case.
func (es Errors) err() error {
	switch len(es) {
	case 0:
		return nil
	case 1:
		return es[0]
	}
	sort.SliceStable(es, func(i, j int) bool { return es[i].Line < es[j].Line })
	return es
}

// yaml.v3 reports syntax errors as "yaml: line N: msg"; pull the line out so
// syntax errors look like every other error.
var yamlLineRe = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`)

func syntaxError(file string, err error) *Error {
	m := yamlLineRe.FindStringSubmatch(err.Error())
	if m == nil {
		return &Error{File: file, Msg: fmt.Sprintf("invalid YAML: %v", err)}
	}
	line, _ := strconv.Atoi(m[1])
	return &Error{File: file, Line: line, Msg: "invalid YAML: " + m[2]}
}
