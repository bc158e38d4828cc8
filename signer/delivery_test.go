package signer

import (
	"bytes"
	"strings"
	"testing"
	"testing/iotest"
)

const vecHeaders = "webhook-id: msg_p5jXN8AQM9LWM0D4loKWxJek\r\n" +
	"webhook-timestamp: 1614265330\r\n" +
	"webhook-signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=\r\n"

const vecBody = `{"test": 2432232314}`

var readDeliveryTests = []struct {
	name    string
	in      string
	body    string // expected body when ok
	ok      bool
	verifys bool // the result verifies against the published vector
}{
	{"request dump", "POST /hooks HTTP/1.1\r\nHost: hooks.example.com\r\nContent-Type: application/json\r\n" + vecHeaders + "\r\n" + vecBody, vecBody, true, true},
	{"response dump", "HTTP/1.1 200 OK\r\n" + vecHeaders + "\r\n" + vecBody, vecBody, true, true},
	{"status line without reason", "HTTP/2 200\r\n" + vecHeaders + "\r\n" + vecBody, vecBody, true, true},
	{"headers only", vecHeaders + "\r\n" + vecBody, vecBody, true, true},
	{"lf line endings", strings.ReplaceAll("POST / HTTP/1.1\r\n"+vecHeaders+"\r\n", "\r\n", "\n") + vecBody, vecBody, true, true},
	{"leading blank lines", "\r\n\n" + vecHeaders + "\r\n" + vecBody, vecBody, true, true},
	{"content-length trims editor newline", vecHeaders + "Content-Length: 20\r\n\r\n" + vecBody + "\n", vecBody, true, true},
	{"without content-length the newline stays", vecHeaders + "\r\n" + vecBody + "\n", vecBody + "\n", true, false},
	{"chunked", vecHeaders + "Transfer-Encoding: chunked\r\n\r\n8\r\n{\"test\":\r\nc\r\n 2432232314}\r\n0\r\n\r\n", vecBody, true, true},
	{"empty body", vecHeaders + "\r\n", "", true, false},
	{"no blank line", vecHeaders, "", true, false},
	{"body with blank lines", vecHeaders + "\r\n" + "a\r\n\r\nb", "a\r\n\r\nb", true, false},
	{"empty input", "", "", false, false},
	{"only blank lines", "\r\n\r\n", "", false, false},
	{"start line only", "POST / HTTP/1.1", "", false, false},
	{"malformed header", "POST / HTTP/1.1\r\nno colon here\r\n\r\n", "", false, false},
	{"space before colon", "webhook-id : x\r\n\r\n", "", false, false},
	{"folded header", vecHeaders + " continued\r\n\r\n", "", false, false},
	{"short body", vecHeaders + "Content-Length: 99\r\n\r\n" + vecBody, "", false, false},
	{"bad content-length", vecHeaders + "Content-Length: +20\r\n\r\n" + vecBody, "", false, false},
	{"conflicting content-length", vecHeaders + "Content-Length: 20\r\nContent-Length: 21\r\n\r\n" + vecBody, "", false, false},
	{"gzip transfer-encoding", vecHeaders + "Transfer-Encoding: gzip\r\n\r\n" + vecBody, "", false, false},
	{"HTTP/1.1 in a header is not a start line", "X-Note: GET / HTTP/1.1\r\n" + vecHeaders + "\r\n" + vecBody, vecBody, true, true},
}

func TestReadDelivery(t *testing.T) {
	for _, tt := range readDeliveryTests {
		t.Run(tt.name, func(t *testing.T) {
			// One byte at a time exercises the line reassembly.
			h, body, err := ReadDelivery(iotest.OneByteReader(strings.NewReader(tt.in)))
			if !tt.ok {
				if err == nil {
					t.Fatalf("ReadDelivery accepted %q: headers %v, body %q", tt.in, h, body)
				}
				return
			}
			if err != nil {
				t.Fatalf("ReadDelivery: %v", err)
			}
			if string(body) != tt.body {
				t.Fatalf("body = %q, want %q", body, tt.body)
			}
			err = VerifyRequest("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", h, body, unix(1614265330), 0)
			if (err == nil) != tt.verifys {
				t.Fatalf("verify = %v, want verified=%v", err, tt.verifys)
			}
		})
	}
}

func TestReadDeliveryLimits(t *testing.T) {
	lim := deliveryLimits{header: 256, body: 64}
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"header section at the limit", "X-A: " + strings.Repeat("a", 256-5-4) + "\r\n\r\n", true},
		{"header section over the limit", "X-A: " + strings.Repeat("a", 256-5-3) + "\r\n\r\n", false},
		{"body at the limit", "X-A: a\r\n\r\n" + strings.Repeat("b", 64), true},
		{"body over the limit", "X-A: a\r\n\r\n" + strings.Repeat("b", 65), false},
		{"content-length over the limit", "Content-Length: 65\r\n\r\n" + strings.Repeat("b", 65), false},
		{"chunked body over the limit", "Transfer-Encoding: chunked\r\n\r\n41\r\n" + strings.Repeat("b", 65) + "\r\n0\r\n\r\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := readDelivery(strings.NewReader(tt.in), lim)
			if (err == nil) != tt.ok {
				t.Fatalf("readDelivery error = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func FuzzReadDelivery(f *testing.F) {
	for _, tt := range readDeliveryTests {
		f.Add([]byte(tt.in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		h, body, err := ReadDelivery(bytes.NewReader(in))
		if err != nil {
			return
		}
		if len(body) > len(in) {
			t.Fatalf("body of %d bytes from %d bytes of input", len(body), len(in))
		}
		for name, vs := range h {
			if !validHeaderName(name) {
				t.Fatalf("invalid header name %q", name)
			}
			for _, v := range vs {
				if strings.ContainsAny(v, "\r\n") {
					t.Fatalf("header %q value %q contains a line break", name, v)
				}
			}
		}
		// Verification of whatever was parsed must not panic.
		_ = VerifyRequest("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", h, body, unix(1614265330), 0)
	})
}
