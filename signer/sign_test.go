package signer

import (
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
)

func TestSignatureHeaderOrder(t *testing.T) {
	k1, k2, k3 := []byte(strings.Repeat("a", 32)), []byte(strings.Repeat("b", 32)), []byte(strings.Repeat("c", 32))
	body := []byte(`{"a":1}`)
	tests := []struct {
		name string
		keys [][]byte
	}{
		{"one key", [][]byte{k1}},
		{"two keys", [][]byte{k2, k1}},
		{"three keys", [][]byte{k3, k1, k2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := SignatureHeader(tt.keys, "msg_1", 1700000000, body)
			parts := strings.Split(got, " ")
			if len(parts) != len(tt.keys) {
				t.Fatalf("header %q has %d entries, want %d", got, len(parts), len(tt.keys))
			}
			for i, k := range tt.keys {
				if want := Sign(k, "msg_1", 1700000000, body); parts[i] != want {
					t.Errorf("entry %d = %q, want %q", i, parts[i], want)
				}
			}
		})
	}
}

func TestSignLongID(t *testing.T) {
	// Ids longer than the stack buffer take the other path; both must agree
	// with a direct computation.
	key := []byte(strings.Repeat("k", 32))
	long := strings.Repeat("x", MaxMessageIDLen+10)
	sig := Sign(key, long, 1, []byte("b"))
	if err := Verify([][]byte{key}, long, "1", sig, []byte("b"), unix(1), 0); err != nil {
		t.Fatalf("verify long id: %v", err)
	}
	if Sign(key, long, 1, []byte("b")) == Sign(key, long[:MaxMessageIDLen], 1, []byte("b")) {
		t.Fatal("truncated id gave the same signature")
	}
}

func TestNewMessageID(t *testing.T) {
	now := time.Date(2026, 11, 26, 1, 2, 3, 4_000_000, time.UTC)
	tests := []struct {
		name   string
		now    time.Time
		wantMS uint64
	}{
		{"now", now, uint64(now.UnixMilli())},
		{"before epoch clamps to zero", time.Unix(-10, 0), 0},
		{"zero time", time.Time{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := NewMessageID(tt.now)
			rest, ok := strings.CutPrefix(id, MessageIDPrefix)
			if !ok {
				t.Fatalf("id %q lacks prefix", id)
			}
			u, err := ulid.ParseStrict(rest)
			if err != nil {
				t.Fatalf("id %q: %v", id, err)
			}
			if u.Time() != tt.wantMS {
				t.Fatalf("ulid time %d, want %d", u.Time(), tt.wantMS)
			}
			if !ValidMessageID(id) {
				t.Fatalf("ValidMessageID(%q) = false", id)
			}
			if NewMessageID(tt.now) == id {
				t.Fatal("two ids for the same instant are equal")
			}
		})
	}
}

func TestValidMessageID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"msg_p5jXN8AQM9LWM0D4loKWxJek", true},
		{"evt-42", true},
		{"a", true},
		{strings.Repeat("a", MaxMessageIDLen), true},
		{strings.Repeat("a", MaxMessageIDLen+1), false},
		{"", false},
		{"msg.1", false},
		{"msg 1", false},
		{"msg\t1", false},
		{"msg\x7f", false},
		{"msg_é", false},
		{"msg\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			if got := ValidMessageID(tt.id); got != tt.want {
				t.Fatalf("ValidMessageID(%q) = %v, want %v", tt.id, got, tt.want)
			}
		})
	}
}

func BenchmarkSign1KiB(b *testing.B) {
	key := []byte(strings.Repeat("k", KeySize))
	body := []byte(strings.Repeat("x", 1024))
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		_ = Sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
	}
}

// TestKeyConcurrent signs different messages with one Key from many
// goroutines (run with -race): pooled HMAC states must never be shared.
func TestKeyConcurrent(t *testing.T) {
	secret := []byte(strings.Repeat("k", KeySize))
	k := NewKey(secret)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				body := []byte(strings.Repeat("x", g*100+i))
				id := "msg_" + strconv.Itoa(g) + "_" + strconv.Itoa(i)
				if got, want := k.Sign(id, int64(i), body), Sign(secret, id, int64(i), body); got != want {
					t.Errorf("goroutine %d message %d: %q, want %q", g, i, got, want)
					return
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkKeySign1KiB(b *testing.B) {
	k := NewKey([]byte(strings.Repeat("k", KeySize)))
	body := []byte(strings.Repeat("x", 1024))
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		_ = k.Sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
	}
}

func BenchmarkSignatureHeader2Keys1KiB(b *testing.B) {
	keys := [][]byte{[]byte(strings.Repeat("k", KeySize)), []byte(strings.Repeat("j", KeySize))}
	body := []byte(strings.Repeat("x", 1024))
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		_ = SignatureHeader(keys, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
	}
}

func BenchmarkVerify1KiB(b *testing.B) {
	key := []byte(strings.Repeat("k", KeySize))
	body := []byte(strings.Repeat("x", 1024))
	sig := Sign(key, "msg_1", 1614265330, body)
	now := unix(1614265330)
	b.ReportAllocs()
	for b.Loop() {
		if err := Verify([][]byte{key}, "msg_1", "1614265330", sig, body, now, 0); err != nil {
			b.Fatal(err)
		}
	}
}
