package signer

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"strconv"
	"strings"
)

// Limits for ReadDelivery, far above any webhook but small enough that a
// runaway pipe cannot exhaust memory.
const (
	maxDeliveryHeaderBytes = 1 << 20
	maxDeliveryBodyBytes   = 64 << 20
)

// ReadDelivery parses a captured delivery for offline verification. The input
// is an HTTP/1.x request or response dump (start line, header lines, a blank
// line, the body) or the same without the start line. Lines may end in CRLF
// or LF; empty lines before the start are skipped (RFC 9112 §2.2).
//
// The body is the exact bytes after the blank line. When a Content-Length
// header is present the body is cut to it (a trailing newline added by an
// editor or a here-document would otherwise break the signature) and a
// shorter body is an error; a chunked body is decoded. Header names keep
// their spelling; VerifyRequest finds them in any case.
func ReadDelivery(r io.Reader) (http.Header, []byte, error) {
	return readDelivery(r, deliveryLimits{header: maxDeliveryHeaderBytes, body: maxDeliveryBodyBytes})
}

type deliveryLimits struct{ header, body int }

func readDelivery(r io.Reader, lim deliveryLimits) (http.Header, []byte, error) {
	br := bufio.NewReaderSize(r, 4096)
	h := make(http.Header)
	budget := lim.header
	first := true
	for {
		line, err := readLine(br, &budget)
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, nil, fmt.Errorf("read delivery: %w", err)
		}
		eof := err != nil
		if line == "" {
			switch {
			case eof && first:
				return nil, nil, errors.New("read delivery: no headers")
			case eof:
				return h, nil, nil // headers without the blank line: no body
			case first:
				continue
			}
			break
		}
		if first {
			first = false
			if isStartLine(line) {
				if eof {
					return nil, nil, fmt.Errorf("read delivery: no headers after %q", clip(line))
				}
				continue
			}
		}
		if line[0] == ' ' || line[0] == '\t' {
			return nil, nil, fmt.Errorf("read delivery: folded header line %q is not supported", clip(line))
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || !validHeaderName(name) || strings.ContainsAny(value, "\r\x00") {
			return nil, nil, fmt.Errorf("read delivery: malformed header line %q", clip(line))
		}
		h[name] = append(h[name], strings.Trim(value, " \t"))
		if eof {
			return h, nil, nil
		}
	}
	body, err := readBody(br, h, lim.body)
	if err != nil {
		return nil, nil, fmt.Errorf("read delivery body: %w", err)
	}
	return h, body, nil
}

// readLine returns one line without its LF or CRLF, charging it to budget.
func readLine(br *bufio.Reader, budget *int) (string, error) {
	var buf []byte
	for {
		frag, err := br.ReadSlice('\n')
		*budget -= len(frag)
		if *budget < 0 {
			return "", errors.New("header section too long")
		}
		buf = append(buf, frag...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		buf = bytes.TrimSuffix(buf, []byte("\n"))
		buf = bytes.TrimSuffix(buf, []byte("\r"))
		return string(buf), err
	}
}

// isStartLine recognises "HTTP/x[.y] NNN reason" and "METHOD target HTTP/x.y".
// A header line cannot match: its name is followed directly by ':'.
func isStartLine(line string) bool {
	if rest, ok := strings.CutPrefix(line, "HTTP/"); ok {
		version, status, _ := strings.Cut(rest, " ")
		return validVersion(version) && len(status) >= 3 && isDigits(status[:3]) && (len(status) == 3 || status[3] == ' ')
	}
	parts := strings.Split(line, " ")
	if len(parts) != 3 || !validHeaderName(parts[0]) || parts[1] == "" {
		return false
	}
	version, ok := strings.CutPrefix(parts[2], "HTTP/")
	return ok && validVersion(version)
}

func validVersion(v string) bool {
	major, minor, dotted := strings.Cut(v, ".")
	return len(major) == 1 && isDigits(major) && (!dotted || (len(minor) == 1 && isDigits(minor)))
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}

func readBody(br *bufio.Reader, h http.Header, limit int) ([]byte, error) {
	if te := strings.ToLower(strings.Join(allHeaders(h, "Transfer-Encoding"), ",")); te != "" {
		if strings.TrimSpace(te) != "chunked" {
			return nil, fmt.Errorf("transfer-encoding %q is not supported", te)
		}
		return readAllLimited(httputil.NewChunkedReader(br), limit)
	}
	cls := allHeaders(h, "Content-Length")
	if len(cls) == 0 {
		return readAllLimited(br, limit)
	}
	for _, v := range cls[1:] {
		if v != cls[0] {
			return nil, fmt.Errorf("conflicting content-length values %q and %q", cls[0], v)
		}
	}
	n, err := strconv.ParseInt(cls[0], 10, 64)
	if err != nil || n < 0 || !isDigits(cls[0]) {
		return nil, fmt.Errorf("invalid content-length %q", clip(cls[0]))
	}
	if n > int64(limit) {
		return nil, fmt.Errorf("content-length %d exceeds %d bytes", n, limit)
	}
	body := make([]byte, n)
	if got, err := io.ReadFull(br, body); err != nil {
		return nil, fmt.Errorf("body has %d bytes, content-length says %d", got, n)
	}
	return body, nil
}

func readAllLimited(r io.Reader, limit int) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, err
	}
	if len(body) > limit {
		return nil, fmt.Errorf("body exceeds %d bytes", limit)
	}
	return body, nil
}

// clip shortens s for an error message.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
