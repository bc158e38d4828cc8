package signer

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestVerify(t *testing.T) {
	key := []byte(strings.Repeat("k", 32))
	old := []byte(strings.Repeat("o", 32))
	other := []byte(strings.Repeat("x", 32))
	const id, ts = "msg_1", int64(1700000000)
	body := []byte(`{"a":1}`)
	good := Sign(key, id, ts, body)
	oldSig := Sign(old, id, ts, body)
	now := unix(ts)

	tests := []struct {
		name      string
		keys      [][]byte
		id, ts    string
		sig       string
		body      []byte
		now       time.Time
		tolerance time.Duration
		want      error
	}{
		{"valid", [][]byte{key}, id, "1700000000", good, body, now, 0, nil},
		{"second key matches (rotation)", [][]byte{other, key}, id, "1700000000", good, body, now, 0, nil},
		{"second entry matches", [][]byte{old}, id, "1700000000", good + " " + oldSig, body, now, 0, nil},
		{"unknown version skipped", [][]byte{key}, id, "1700000000", "v1a,AAAA " + good, body, now, 0, nil},
		{"v2 with the right mac skipped", [][]byte{key}, id, "1700000000", "v2," + good[3:], body, now, 0, ErrNoMatchingSignature},
		{"runs of spaces tolerated", [][]byte{key}, id, "1700000000", "  v1,bad  " + good + " ", body, now, 0, nil},
		{"garbage entry does not hide a good one", [][]byte{key}, id, "1700000000", "v1,!!! v1, ,,, " + good, body, now, 0, nil},
		{"modified body", [][]byte{key}, id, "1700000000", good, []byte(`{"a":2}`), now, 0, ErrNoMatchingSignature},
		{"body with trailing newline", [][]byte{key}, id, "1700000000", good, append(body, '\n'), now, 0, ErrNoMatchingSignature},
		{"other id", [][]byte{key}, "msg_2", "1700000000", good, body, now, 0, ErrNoMatchingSignature},
		{"wrong key", [][]byte{other}, id, "1700000000", good, body, now, 0, ErrNoMatchingSignature},
		{"unpadded signature", [][]byte{key}, id, "1700000000", strings.TrimRight(good, "="), body, now, 0, ErrNoMatchingSignature},
		{"only other versions", [][]byte{key}, id, "1700000000", "v1a,xyz", body, now, 0, ErrNoMatchingSignature},
		{"missing id", [][]byte{key}, "", "1700000000", good, body, now, 0, ErrMissingHeader},
		{"missing timestamp", [][]byte{key}, id, "", good, body, now, 0, ErrMissingHeader},
		{"missing signature", [][]byte{key}, id, "1700000000", "", body, now, 0, ErrMissingHeader},
		{"timestamp not a number", [][]byte{key}, id, "17e8", good, body, now, 0, ErrInvalidTimestamp},
		{"timestamp with suffix", [][]byte{key}, id, "1700000000abc", good, body, now, 0, ErrInvalidTimestamp},
		{"negative timestamp", [][]byte{key}, id, "-1", good, body, now, 0, ErrInvalidTimestamp},
		{"huge timestamp", [][]byte{key}, id, strings.Repeat("9", 40), good, body, now, 0, ErrInvalidTimestamp},
		{"at the old edge", [][]byte{key}, id, "1700000000", good, body, now.Add(5 * time.Minute), 0, nil},
		{"past the old edge", [][]byte{key}, id, "1700000000", good, body, now.Add(5*time.Minute + time.Second), 0, ErrTimestampTooOld},
		{"at the new edge", [][]byte{key}, id, "1700000000", good, body, now.Add(-5 * time.Minute), 0, nil},
		{"past the new edge", [][]byte{key}, id, "1700000000", good, body, now.Add(-5*time.Minute - time.Second), 0, ErrTimestampTooNew},
		{"custom tolerance", [][]byte{key}, id, "1700000000", good, body, now.Add(time.Hour), 2 * time.Hour, nil},
		{"custom tolerance exceeded", [][]byte{key}, id, "1700000000", good, body, now.Add(time.Minute), 30 * time.Second, ErrTimestampTooOld},
		{"no keys", nil, id, "1700000000", good, body, now, 0, ErrBadSecret},
		{"empty key", [][]byte{{}}, id, "1700000000", good, body, now, 0, ErrBadSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify(tt.keys, tt.id, tt.ts, tt.sig, tt.body, tt.now, tt.tolerance)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestVerifyRequest(t *testing.T) {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	const sig = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	body := []byte(`{"test": 2432232314}`)
	now := unix(1614265330)
	tests := []struct {
		name   string
		secret string
		h      http.Header
		want   error
	}{
		{"lower-case names", secret, http.Header{
			"webhook-id": {"msg_p5jXN8AQM9LWM0D4loKWxJek"}, "webhook-timestamp": {"1614265330"}, "webhook-signature": {sig},
		}, nil},
		{"canonical names", secret, http.Header{
			"Webhook-Id": {"msg_p5jXN8AQM9LWM0D4loKWxJek"}, "Webhook-Timestamp": {"1614265330"}, "Webhook-Signature": {sig},
		}, nil},
		{"mixed case and padding", secret, http.Header{
			"WEBHOOK-ID": {" msg_p5jXN8AQM9LWM0D4loKWxJek"}, "webhook-Timestamp": {"1614265330 "}, "Webhook-signature": {sig},
		}, nil},
		{"signature split over two lines", secret, http.Header{
			"Webhook-Id": {"msg_p5jXN8AQM9LWM0D4loKWxJek"}, "Webhook-Timestamp": {"1614265330"},
			"Webhook-Signature": {"v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", sig},
		}, nil},
		{"bare base64 secret", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", http.Header{
			"Webhook-Id": {"msg_p5jXN8AQM9LWM0D4loKWxJek"}, "Webhook-Timestamp": {"1614265330"}, "Webhook-Signature": {sig},
		}, nil},
		{"missing signature", secret, http.Header{
			"Webhook-Id": {"msg_p5jXN8AQM9LWM0D4loKWxJek"}, "Webhook-Timestamp": {"1614265330"},
		}, ErrMissingHeader},
		{"url-safe secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS-", http.Header{}, ErrBadSecret},
		{"wrong secret", "whsec_NJ6ky1qSMWqQE96tqv2sgM+1H/h1qAYlyfjcEZSERSQ=", http.Header{
			"Webhook-Id": {"msg_p5jXN8AQM9LWM0D4loKWxJek"}, "Webhook-Timestamp": {"1614265330"}, "Webhook-Signature": {sig},
		}, ErrNoMatchingSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifyRequest(tt.secret, tt.h, body, now, DefaultTolerance)
			if tt.want == nil && err != nil {
				t.Fatalf("VerifyRequest: %v", err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("VerifyRequest = %v, want %v", err, tt.want)
			}
		})
	}
}

var signatureHeaderSeeds = []string{
	"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
	"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
	"v1a,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
	"  v1,bad  v1,",
	"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE",
	",,,",
	"",
}

func TestParseSignatures(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{signatureHeaderSeeds[0], 1},
		{signatureHeaderSeeds[1], 2},
		{signatureHeaderSeeds[2], 0},
		{signatureHeaderSeeds[3], 0},
		{signatureHeaderSeeds[4], 0},
		{signatureHeaderSeeds[5], 0},
		{signatureHeaderSeeds[6], 0},
		{"v1,g0hM9SsE-OTPJTGt_tmIKtSyZlE3uFJELVlNIOLJ1OE=", 0}, // url-safe
		{"v1,00000000000000000000000000000000000000000000", 0}, // 44 chars without padding: 33 bytes
		{"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OF=", 0}, // non-canonical padding bits
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := len(parseSignatures(tt.in)); got != tt.want {
				t.Fatalf("parseSignatures(%q) found %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

func FuzzParseSignatureHeader(f *testing.F) {
	for _, s := range signatureHeaderSeeds {
		f.Add(s)
	}
	key := []byte(strings.Repeat("k", 32))
	body := []byte("body")
	good := Sign(key, "msg_1", 100, body)
	f.Fuzz(func(t *testing.T, header string) {
		sigs := parseSignatures(header)
		if len(sigs) > strings.Count(header, "v1,") {
			t.Fatalf("%d entries from %d v1 prefixes", len(sigs), strings.Count(header, "v1,"))
		}
		// Appending a valid entry to any header must verify, and nothing the
		// fuzzer makes without the key may.
		if err := Verify([][]byte{key}, "msg_1", "100", header+" "+good, body, unix(100), 0); err != nil {
			t.Fatalf("valid entry after %q: %v", header, err)
		}
		if !strings.Contains(header, good[3:]) {
			if err := Verify([][]byte{key}, "msg_1", "100", header, body, unix(100), 0); err == nil {
				t.Fatalf("header %q verified without the signature", header)
			}
		}
	})
}
