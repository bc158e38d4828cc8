package tollgate

import "time"

// SigningKeyStatus is where a signing key is in its rotation.
type SigningKeyStatus string

const (
	SigningPrimary SigningKeyStatus = "primary" // signs, newest
	SigningGrace   SigningKeyStatus = "grace"   // still signs until GraceUntil
	SigningRetired SigningKeyStatus = "retired" // no longer signs
)

// SigningKey is a tenant's webhook signing key. Sealed is the 32-byte secret
// encrypted with AES-256-GCM under the master key; stores never see plaintext.
type SigningKey struct {
	ID         string           `json:"id"`
	Tenant     string           `json:"tenant"`
	Status     SigningKeyStatus `json:"status"`
	CreatedAt  time.Time        `json:"created_at"`
	GraceUntil *time.Time       `json:"grace_until"`
	Sealed     []byte           `json:"-"`
}

// EffectiveStatus is the status at time now: a grace key past GraceUntil is retired.
func (k *SigningKey) EffectiveStatus(now time.Time) SigningKeyStatus {
	if k.Status == SigningGrace && k.GraceUntil != nil && !now.Before(*k.GraceUntil) {
		return SigningRetired
	}
	return k.Status
}
