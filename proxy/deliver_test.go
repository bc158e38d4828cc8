package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"os"
	"testing"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/upstream"
)

// TestRoundTripDecision: a failed delivery is refused with the reason and
// detail of the stage that failed, so a receiver that timed out is not
// reported as unreachable.
func TestRoundTripDecision(t *testing.T) {
	dialed := tollgate.Deny(tollgate.ReasonForbiddenAddress, "from the dial")
	for _, tt := range []struct {
		name   string
		err    error
		reason tollgate.Reason
		detail string
	}{
		{"dial refusal", fmt.Errorf("wrapped: %w", &dialError{decision: dialed, err: errSocketDenied}), tollgate.ReasonForbiddenAddress, "from the dial"},
		{"certificate", fmt.Errorf("tls handshake with h: %w", &tls.CertificateVerificationError{Err: errors.New("x")}), tollgate.ReasonUpstreamError, "the certificate of hook.test:443 did not verify"},
		{"handshake timeout", fmt.Errorf("tls handshake with h: %w", context.DeadlineExceeded), tollgate.ReasonUpstreamTimeout, "connecting to hook.test:443 timed out"},
		{"handshake failure", fmt.Errorf("tls handshake with h: %w", io.EOF), tollgate.ReasonUpstreamError, "connecting to hook.test:443 failed"},
		{"no answer in time", fmt.Errorf("%w: read response: %w", upstream.ErrRequest, os.ErrDeadlineExceeded), tollgate.ReasonUpstreamTimeout, "hook.test:443 did not answer in time"},
		{"context deadline", fmt.Errorf("%w: %w", upstream.ErrRequest, context.DeadlineExceeded), tollgate.ReasonUpstreamTimeout, "hook.test:443 did not answer in time"},
		{"invalid header", fmt.Errorf("%w: field name %q", upstream.ErrInvalidHeader, "a b"), tollgate.ReasonInvalidRequest, "a request header is not a valid HTTP field"},
		{"closed mid-request", fmt.Errorf("%w: read response: %w", upstream.ErrRequest, io.EOF), tollgate.ReasonUpstreamError, "the request to hook.test:443 failed"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := roundTripDecision("hook.test:443", tt.err)
			if d.Allow || d.Reason != tt.reason || d.Detail != tt.detail {
				t.Errorf("got %+v, want %s %q", d, tt.reason, tt.detail)
			}
		})
	}
}
