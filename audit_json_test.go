package tollgate_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate"
)

func TestAuditEventJSONTime(t *testing.T) {
	e := tollgate.AuditEvent{ID: "evt_1", Time: time.Date(2026, 11, 26, 1, 2, 3, 130000999, time.FixedZone("x", 3600)), Metadata: json.RawMessage(`{}`)}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"time":"2026-11-26T00:02:03.130000Z"`) || strings.Count(string(b), `"time"`) != 1 {
		t.Fatalf("got %s", b)
	}
	var back tollgate.AuditEvent
	if err := json.Unmarshal(b, &back); err != nil || !back.Time.Equal(e.Time.Truncate(time.Microsecond)) || back.ID != "evt_1" {
		t.Fatalf("round trip: %v %+v", err, back)
	}
}
