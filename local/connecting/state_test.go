package connecting

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/logistos-sync/logistos-sync/local/stack"
	"github.com/logistos-sync/logistos-sync/local/stacktest"
	"github.com/logistos-sync/logistos-sync/shared/connect"
	"github.com/logistos-sync/logistos-sync/shared/state"
)

// TestStatesInDynamoDB: in the state table (kumo's DynamoDB), a state is
// spent once, an expired one is refused although the TTL has not removed
// it yet, and issuing an existing id fails.
func TestStatesInDynamoDB(t *testing.T) {
	st := stacktest.ForTest(t, stack.Options{Tables: true})
	now := time.Now()
	once := &state.DynamoDBOnce{Client: st.DynamoDB, Table: st.StateTable, Now: func() time.Time { return now }}
	ctx := context.Background()
	for _, id := range []string{"connect-state/a", "connect-state/b"} {
		if err := once.Issue(ctx, id, now.Add(connect.StateTTL)); err != nil {
			t.Fatal(err)
		}
	}
	if err := once.Issue(ctx, "connect-state/a", now.Add(connect.StateTTL)); !errors.Is(err, state.ErrConflict) {
		t.Errorf("issued the same id twice: %v", err)
	}
	if err := once.Spend(ctx, "connect-state/a"); err != nil {
		t.Fatalf("spend: %v", err)
	}
	if err := once.Spend(ctx, "connect-state/a"); !errors.Is(err, state.ErrSpent) {
		t.Errorf("spent twice: %v", err)
	}
	if err := once.Spend(ctx, "connect-state/never"); !errors.Is(err, state.ErrSpent) {
		t.Errorf("spent an unknown state: %v", err)
	}
	now = now.Add(connect.StateTTL + time.Second)
	if err := once.Spend(ctx, "connect-state/b"); !errors.Is(err, state.ErrSpent) {
		t.Errorf("spent an expired state: %v", err)
	}
}
