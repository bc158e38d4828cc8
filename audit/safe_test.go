package audit_test

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/tollgate-dev/tollgate/audit"
)

func TestSafeMetadata(t *testing.T) {
	type inner struct {
		Token string `json:"token"`
		Port  int    `json:"port"`
	}
	tests := []struct {
		name string
		in   map[string]any
		want string
	}{
		{"nil", nil, `{}`},
		{"keeps ordinary facts", map[string]any{"port": 443, "vetted_ip": "93.184.215.14", "bytes": int64(1) << 60, "status": 200},
			`{"bytes":1152921504606846976,"port":443,"status":200,"vetted_ip":"93.184.215.14"}`},
		{"drops credentials, any case", map[string]any{
			"Authorization": "Bearer x", "proxy-authorization": "Basic x", "client_secret": "s", "PASSWORD": "p",
			"passwd": "p", "access_token": "t", "webhook-signature": "v1,x", "credentials": "c", "Cookie": "c",
			"ok": true,
		}, `{"ok":true}`},
		{"drops key-like names", map[string]any{
			"key": "tg_live_x", "api_key": "x", "apiKey": "x", "X-Api-Key": "x", "private_key": "x",
			"signing_keys": "x", "APIKEY": "x", "key_hash": "x", "keys": []string{"a"},
		}, `{}`},
		{"keeps key ids", map[string]any{"key_id": "key_01", "signingKeyId": "sk_1", "api-key-id": "k", "keyid": "k"},
			`{"api-key-id":"k","key_id":"key_01","keyid":"k","signingKeyId":"sk_1"}`},
		{"scrubs nested maps, slices and structs", map[string]any{
			"upstream": map[string]any{"host": "h", "Authorization": "x", "deeper": []any{map[string]any{"secret": 1, "n": 2}}},
			"list":     []map[string]string{{"password": "x", "user": "u"}},
			"struct":   inner{Token: "t", Port: 80},
		}, `{"list":[{"user":"u"}],"struct":{"port":80},"upstream":{"deeper":[{"n":2}],"host":"h"}}`},
		{"no html escaping", map[string]any{"target": "a<b>&c"}, `{"target":"a<b>&c"}`},
		{"unencodable values named by type only", map[string]any{"ratio": math.NaN(), "ch": make(chan int)},
			`{"ch":"unencodable chan int","ratio":"unencodable float64"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := audit.SafeMetadata(tc.in)
			if string(got) != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
			if !json.Valid(got) {
				t.Errorf("not valid JSON: %s", got)
			}
			if canon, err := audit.CanonicalMetadata(got); err != nil || string(canon) != string(got) {
				t.Errorf("not canonical: %s (%v)", canon, err)
			}
		})
	}
}
