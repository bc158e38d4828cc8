package tollgate

import "net/http"

// Reason is a refusal code of SPEC §6. It is sent as the Tollgate-Reason
// header, as the status line's reason phrase and as the JSON body's "error".
type Reason string

// Reason codes, exactly as the contract names them.
const (
	ReasonNone              Reason = ""
	ReasonInvalidRequest    Reason = "invalid_request"
	ReasonProxyAuthRequired Reason = "proxy_auth_required"
	ReasonTenantSuspended   Reason = "tenant_suspended"
	ReasonForbiddenPort     Reason = "forbidden_port"
	ReasonForbiddenScheme   Reason = "forbidden_scheme"
	ReasonForbiddenHost     Reason = "forbidden_host"
	ReasonForbiddenAddress  Reason = "forbidden_address"
	ReasonBodyTooLarge      Reason = "body_too_large"
	ReasonQuotaExceeded     Reason = "quota_exceeded"
	ReasonDNSError          Reason = "dns_error"
	ReasonUpstreamError     Reason = "upstream_error"
	ReasonUpstreamTimeout   Reason = "upstream_timeout"
)

// Status is the HTTP status the proxy answers a refusal with.
func (r Reason) Status() int {
	switch r {
	case ReasonInvalidRequest:
		return http.StatusBadRequest
	case ReasonProxyAuthRequired:
		return http.StatusProxyAuthRequired
	case ReasonTenantSuspended, ReasonForbiddenPort, ReasonForbiddenScheme,
		ReasonForbiddenHost, ReasonForbiddenAddress:
		return http.StatusForbidden
	case ReasonBodyTooLarge:
		return http.StatusRequestEntityTooLarge
	case ReasonQuotaExceeded:
		return http.StatusTooManyRequests
	case ReasonDNSError, ReasonUpstreamError:
		return http.StatusBadGateway
	case ReasonUpstreamTimeout:
		return http.StatusGatewayTimeout
	}
	return http.StatusOK
}

// Decision is the verdict of a policy check. A refusal is a Decision with
// Allow false, never an error: errors are for failures of the machinery.
type Decision struct {
	Allow  bool
	Reason Reason
	Detail string // one sentence for the refusal body; never contains secrets
}

// Allowed is the Decision that lets a request continue.
var Allowed = Decision{Allow: true}

// Deny builds a refusal.
func Deny(r Reason, detail string) Decision {
	return Decision{Reason: r, Detail: detail}
}

// Quota limit names used in quota_exceeded details and metrics labels.
const (
	LimitGlobalRPS         = "global_rps"
	LimitTenantRPS         = "tenant_rps"
	LimitTenantConcurrency = "tenant_concurrency"
	LimitTenantBandwidth   = "tenant_bandwidth"
	LimitKeyRPS            = "key_rps"
	LimitHostRPS           = "host_rps"
)
