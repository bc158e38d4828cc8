package cli

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/signer"
)

// The Standard Webhooks published test secret.
const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// delivery builds a captured request signed with secret at ts.
func delivery(t *testing.T, secret string, ts time.Time, body, sentBody string) string {
	t.Helper()
	key, err := signer.ParseSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	id := "msg_p5jXN8AQM9LWM0D4loKWxJek"
	sig := signer.Sign(key, id, ts.Unix(), []byte(body))
	return fmt.Sprintf("POST /webhooks HTTP/1.1\r\nHost: hooks.example.com\r\nContent-Type: application/json\r\n"+
		"webhook-id: %s\r\nwebhook-timestamp: %d\r\nwebhook-signature: %s\r\nContent-Length: %d\r\n\r\n%s",
		id, ts.Unix(), sig, len(sentBody), sentBody)
}

func TestVerify(t *testing.T) {
	body := `{"test": 2432232314}`
	otherKey, err := signer.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	other := signer.FormatSecret(otherKey)
	cases := []struct {
		name     string
		args     []string
		stdin    string
		code     int
		out, err string
	}{
		{"valid", []string{"--secret", testSecret}, delivery(t, testSecret, fixedNow, body, body), ExitOK, "=valid\n", ""},
		{"valid near edge of tolerance", []string{"--secret", testSecret}, delivery(t, testSecret, fixedNow.Add(-299*time.Second), body, body), ExitOK, "=valid\n", ""},
		{"tampered body", []string{"--secret", testSecret}, delivery(t, testSecret, fixedNow, body, strings.Replace(body, "2", "3", 1)), ExitFailure, "invalid: no matching webhook signature", ""},
		{"other secret", []string{"--secret", other}, delivery(t, testSecret, fixedNow, body, body), ExitFailure, "invalid: no matching webhook signature", ""},
		{"too old", []string{"--secret", testSecret}, delivery(t, testSecret, fixedNow.Add(-10*time.Minute), body, body), ExitFailure, "invalid: webhook timestamp too old", ""},
		{"too new", []string{"--secret", testSecret}, delivery(t, testSecret, fixedNow.Add(10*time.Minute), body, body), ExitFailure, "invalid: webhook timestamp too new", ""},
		{"wider tolerance", []string{"--secret", testSecret, "--tolerance", "15m"}, delivery(t, testSecret, fixedNow.Add(-10*time.Minute), body, body), ExitOK, "=valid\n", ""},
		{"missing headers", []string{"--secret", testSecret}, "POST / HTTP/1.1\r\nHost: x\r\n\r\n{}", ExitFailure, "invalid: missing webhook header", ""},
		{"not a request", []string{"--secret", testSecret}, "", ExitFailure, "invalid: read delivery", ""},
		{"no secret", nil, "", ExitUsage, "", "verify needs --secret"},
		{"bad secret", []string{"--secret", "whsec_not-base64"}, "", ExitUsage, "", "--secret is not a usable signing secret"},
		{"zero tolerance", []string{"--secret", testSecret, "--tolerance", "0s"}, "", ExitUsage, "", "--tolerance must be positive"},
		{"stray argument", []string{"--secret", testSecret, "request.txt"}, "", ExitUsage, "", `unexpected argument "request.txt"`},
		{"json valid", []string{"--secret", testSecret, "--json"}, delivery(t, testSecret, fixedNow, body, body), ExitOK, `"valid": true`, ""},
		{"json invalid", []string{"--secret", other, "--json"}, delivery(t, testSecret, fixedNow, body, body), ExitFailure, `"reason": "no matching webhook signature: `, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := runWith(t, nil, nil, tc.stdin, append([]string{"verify"}, tc.args...)...)
			res.check(t, tc.code, tc.out, tc.err)
		})
	}
}

// The published Standard Webhooks vector, verified at its own timestamp.
func TestVerifyPublishedVector(t *testing.T) {
	ts := int64(1614265330)
	in := "webhook-id: msg_p5jXN8AQM9LWM0D4loKWxJek\nwebhook-timestamp: " + strconv.FormatInt(ts, 10) +
		"\nwebhook-signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=\n\n{\"test\": 2432232314}"
	var out, errb strings.Builder
	r := &runner{env: func(string) string { return "" }, stdin: strings.NewReader(in), stdout: &out, stderr: &errb,
		now: func() time.Time { return time.Unix(ts, 0) }}
	if code := r.run(t.Context(), []string{"verify", "--secret", testSecret}); code != ExitOK || out.String() != "valid\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
}

// A capture with a final newline no Content-Length covers still verifies,
// and says so; a tampered body does not, newline or not.
func TestVerifyFinalNewline(t *testing.T) {
	ts := int64(1614265330)
	head := "webhook-id: msg_p5jXN8AQM9LWM0D4loKWxJek\nwebhook-timestamp: " + strconv.FormatInt(ts, 10) +
		"\nwebhook-signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=\n\n"
	for _, tc := range []struct {
		name, body string
		code       int
		out        string
	}{
		{"LF", "{\"test\": 2432232314}\n", ExitOK, "valid (without the input's final newline"},
		{"CRLF", "{\"test\": 2432232314}\r\n", ExitOK, "valid (without the input's final newline"},
		{"tampered", "{\"test\": 2432232315}\n", ExitFailure, "invalid: no matching webhook signature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb strings.Builder
			r := &runner{env: func(string) string { return "" }, stdin: strings.NewReader(head + tc.body), stdout: &out, stderr: &errb,
				now: func() time.Time { return time.Unix(ts, 0) }}
			if code := r.run(t.Context(), []string{"verify", "--secret", testSecret}); code != tc.code || !strings.Contains(out.String(), tc.out) {
				t.Fatalf("exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
			}
		})
	}
}
