package tollgate

import (
	"encoding/json"
	"time"
)

// ActorType says who caused an audit event.
type ActorType string

const (
	ActorKey    ActorType = "key"
	ActorAdmin  ActorType = "admin"
	ActorSystem ActorType = "system"
)

// Outcome of an audited action.
type Outcome string

const (
	OutcomeSuccess Outcome = "success"
	OutcomeFailure Outcome = "failure"
	OutcomeBlocked Outcome = "blocked"
)

// PlatformChain is the chain name of events that belong to no tenant.
const PlatformChain = ""

// AuditEvent is one entry of the tamper-evident trail (SPEC §8). Hash is
// SHA-256(PrevHash || canonical JSON of the event without Hash); events
// are chained per tenant, platform events (Tenant "") on their own chain.
// Never put API keys, secrets, Authorization headers or bodies in one.
type AuditEvent struct {
	ID        string          `json:"id"`
	Time      time.Time       `json:"time"`
	Tenant    string          `json:"tenant"`
	Actor     string          `json:"actor"`
	ActorType ActorType       `json:"actor_type"`
	Action    string          `json:"action"`
	Target    string          `json:"target"`
	Outcome   Outcome         `json:"outcome"`
	Reason    string          `json:"reason"`
	ClientIP  string          `json:"client_ip"`
	Metadata  json.RawMessage `json:"metadata"`
	PrevHash  string          `json:"prev_hash"`
	Hash      string          `json:"hash"`
	// Seq orders events within a chain; assigned by the store on append.
	Seq int64 `json:"-"`
}

// AuditQuery filters audit listing. Zero fields do not filter.
type AuditQuery struct {
	Tenant  *string // nil: every chain (admin only); "" is the platform chain
	Action  string
	Outcome Outcome
	Since   time.Time
	Until   time.Time
	Page    Page
}

// auditTimeLayout is the precision the chain hashes (audit.TimeLayout):
// exported and listed events carry exactly it, so a third party can
// recompute every hash from the JSON it received.
const auditTimeLayout = "2006-01-02T15:04:05.000000Z07:00"

// MarshalJSON writes the event with Time in UTC with exactly six fractional digits.
func (e AuditEvent) MarshalJSON() ([]byte, error) {
	type plain AuditEvent
	return json.Marshal(struct {
		plain
		Time string `json:"time"`
	}{plain(e), e.Time.UTC().Truncate(time.Microsecond).Format(auditTimeLayout)})
}
