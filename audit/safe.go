package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
)

// secretWords are substrings of metadata keys that are never written.
var secretWords = []string{"authorization", "secret", "password", "passwd", "token", "signature", "credential", "cookie"}

// SafeMetadata marshals m into canonical metadata, dropping at every depth
// the keys whose names look like they hold a credential: any key containing
// authorization, secret, password, passwd, token, signature, credential or
// cookie (case-insensitive), and any key with a word "key" or "keys" or a
// word ending in "key" (key, api_key, apiKey, X-Api-Key, private_key) unless
// the next word is "id" (key_id, signingKeyId name public handles, not
// secrets). It is a second line of defence: callers must not pass secrets
// in the first place. A value that cannot be marshalled becomes a string
// naming its type, never its content.
func SafeMetadata(m map[string]any) json.RawMessage {
	clean := make(map[string]any, len(m))
	for k, v := range m {
		if secretKey(k) {
			continue
		}
		raw, err := json.Marshal(v)
		if err != nil {
			clean[k] = fmt.Sprintf("unencodable %T", v)
			continue
		}
		// UseNumber keeps large integers (byte counts) exact.
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var generic any
		if err := dec.Decode(&generic); err != nil {
			clean[k] = fmt.Sprintf("unencodable %T", v)
			continue
		}
		clean[k] = scrub(generic)
	}
	raw, err := json.Marshal(clean)
	if err != nil {
		// clean holds only what json.Unmarshal produced and strings.
		return json.RawMessage(emptyMetadata)
	}
	out, err := canonicalMetadata(raw)
	if err != nil {
		return json.RawMessage(emptyMetadata)
	}
	return out
}

// scrub drops secret-looking keys from decoded JSON at every depth.
func scrub(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, inner := range t {
			if secretKey(k) {
				delete(t, k)
				continue
			}
			t[k] = scrub(inner)
		}
	case []any:
		for i := range t {
			t[i] = scrub(t[i])
		}
	}
	return v
}

func secretKey(name string) bool {
	lower := strings.ToLower(name)
	for _, w := range secretWords {
		if strings.Contains(lower, w) {
			return true
		}
	}
	words := splitWords(name)
	for i, w := range words {
		if w == "keys" || strings.HasSuffix(w, "key") {
			if i+1 < len(words) && words[i+1] == "id" {
				continue
			}
			return true
		}
	}
	return false
}

// splitWords splits a key name at non-letters/digits and lower-to-upper
// case changes, lower-casing the words: "X-Api-Key" → x api key,
// "signingKeyID" → signing key id.
func splitWords(name string) []string {
	var words []string
	var cur []rune
	var prev rune
	for _, r := range name {
		switch {
		case !unicode.IsLetter(r) && !unicode.IsDigit(r):
			if len(cur) > 0 {
				words = append(words, strings.ToLower(string(cur)))
			}
			cur = cur[:0]
		case unicode.IsUpper(r) && len(cur) > 0 && !unicode.IsUpper(prev):
			words = append(words, strings.ToLower(string(cur)))
			cur = append(cur[:0], r)
		default:
			cur = append(cur, r)
		}
		prev = r
	}
	if len(cur) > 0 {
		words = append(words, strings.ToLower(string(cur)))
	}
	return words
}
