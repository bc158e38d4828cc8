// Package proxy is Tollgate's data plane: it authenticates each request to a
// tenant, vets the destination (parse strictly, decide by name, resolve once,
// decide by every address), takes quota, dials only a vetted address and then
// tunnels (CONNECT), intercepts and signs (TLS intercept mode) or forwards and
// signs (absolute-form http://).
//
// It sees tenants, keys, the limiter and the audit trail only through small
// interfaces; it never imports a concrete store. It must never dial an address
// that the policy has not allowed for this request, never re-resolve a name
// after vetting, never follow a redirect and never forward Proxy-Authorization
// or log keys, secrets or signatures.
package proxy
