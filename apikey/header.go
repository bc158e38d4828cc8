package apikey

import (
	"encoding/base64"
	"strings"
)

// maxHeader bounds the work done on a credential header; a real one is < 200 bytes.
const maxHeader = 4096

// splitScheme splits "Scheme SP+ token" with a case-insensitive scheme and
// returns the token with surrounding blanks removed.
func splitScheme(h, scheme string) (string, bool) {
	if len(h) > maxHeader || len(h) <= len(scheme) || !strings.EqualFold(h[:len(scheme)], scheme) {
		return "", false
	}
	rest := h[len(scheme):]
	if rest[0] != ' ' && rest[0] != '\t' {
		return "", false
	}
	tok := strings.Trim(rest, " \t")
	if tok == "" || hasCtlOrSpace(tok) {
		return "", false
	}
	return tok, true
}

func hasCtl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

func hasCtlOrSpace(s string) bool {
	return hasCtl(s) || strings.ContainsAny(s, " \t")
}

// ParseProxyAuthorization parses "Basic base64(user:pass)" (RFC 7617). The
// scheme is case-insensitive, the base64 must be strict standard padded
// encoding, and control characters anywhere are refused. The credentials
// are split at the first ':' (usernames cannot contain one; keys could).
func ParseProxyAuthorization(h string) (user, pass string, ok bool) {
	tok, ok := splitScheme(h, "Basic")
	if !ok {
		return "", "", false
	}
	var buf [maxHeader]byte
	n, err := base64.StdEncoding.Strict().Decode(buf[:], []byte(tok))
	if err != nil {
		return "", "", false
	}
	cred := string(buf[:n])
	if hasCtl(cred) {
		return "", "", false
	}
	user, pass, ok = strings.Cut(cred, ":")
	if !ok {
		return "", "", false
	}
	return user, pass, true
}

// ParseBearer parses "Bearer <token>" (RFC 6750) with a case-insensitive scheme.
func ParseBearer(h string) (string, bool) {
	return splitScheme(h, "Bearer")
}
