// Package control serves the control API (SPEC §7): tenants, API keys,
// signing keys, audit, health and the intercept CA. Its Server is also the
// business layer the declarative config uses (UpsertDeclarative,
// EnsureTenant), so every change, wherever it comes from, is validated,
// audited durably before it is acknowledged, and pushed to the identity
// registry.
//
// It must never return or log an API key after the response that creates
// it, a signing secret outside the secret route, or an Authorization
// header; it must never reveal that another tenant's resource exists (404,
// not 403), and it must never talk to a concrete store, only the root
// interfaces.
package control
