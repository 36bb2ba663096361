package connecting

import (
	"testing"
	"time"

	"github.com/logistos-sync/logistos-sync/internal/oncetest"
	"github.com/logistos-sync/logistos-sync/local/stack"
	"github.com/logistos-sync/logistos-sync/local/stacktest"
	"github.com/logistos-sync/logistos-sync/shared/state"
)

// TestStatesInDynamoDB: in the state table (kumo's DynamoDB), single-use
// documents keep the contract the in-memory ones keep: spent once even by
// concurrent callers, an expired one refused although the TTL has not
// removed it yet, and what a spend keeps readable until its own expiry.
func TestStatesInDynamoDB(t *testing.T) {
	st := stacktest.ForTest(t, stack.Options{Tables: true})
	now := time.Now()
	oncetest.Run(t, &state.DynamoDBOnce{Client: st.DynamoDB, Table: st.StateTable, Now: func() time.Time { return now }}, &now)
}
