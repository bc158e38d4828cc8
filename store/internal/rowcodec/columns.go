package rowcodec

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"net/netip"
	"time"

	"github.com/tollgate-dev/tollgate"
)

// JSON encodes v for a JSON column. nil slices stay null so that a
// round trip returns exactly what was stored.
func JSON(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode %T: %w", v, err)
	}
	return string(b), nil
}

// Policy decodes a policy column.
func Policy(s string) (tollgate.Policy, error) {
	var p tollgate.Policy
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		return p, fmt.Errorf("decode policy: %w", err)
	}
	return p, nil
}

// Quotas decodes a quotas column.
func Quotas(s string) (tollgate.Quotas, error) {
	var q tollgate.Quotas
	if err := json.Unmarshal([]byte(s), &q); err != nil {
		return q, fmt.Errorf("decode quotas: %w", err)
	}
	return q, nil
}

// Scopes decodes a scopes column.
func Scopes(s string) ([]tollgate.Scope, error) {
	var v []tollgate.Scope
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, fmt.Errorf("decode scopes: %w", err)
	}
	return v, nil
}

// Prefixes decodes a CIDR list column.
func Prefixes(s string) ([]netip.Prefix, error) {
	var v []netip.Prefix
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, fmt.Errorf("decode prefixes: %w", err)
	}
	return v, nil
}

// Nanos stores t as UTC Unix nanoseconds; the zero time is NULL because
// its UnixNano is out of range and would not come back as the zero time.
func Nanos(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixNano(), Valid: true}
}

// NanosPtr is Nanos for an optional time.
func NanosPtr(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return Nanos(*t)
}

// Time is the inverse of Nanos, always in UTC.
func Time(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}

// TimePtr is the inverse of NanosPtr. A stored zero time comes back as nil,
// which is what every optional time field means by it.
func TimePtr(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := time.Unix(0, n.Int64).UTC()
	return &t
}
