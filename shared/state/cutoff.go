package state

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// BackfillID is the document of activation's backfill: its checkpoint
// (written by activate), which holds the activation's cut-off.
const BackfillID = "backfill"

// ActivationCutoff reads the activation's backfill cut-off from the
// backfill's document: every order created before it is the backfill's to
// queue, every later one the webhook's (and reconcile's, whose first window
// starts here). ok is false before a backfill has fixed one (activation not
// run, or run without the backfill).
func ActivationCutoff(ctx context.Context, store Store) (cutoff time.Time, ok bool, err error) {
	doc, _, err := store.Get(ctx, BackfillID)
	if err != nil || doc == nil {
		return time.Time{}, false, err
	}
	var st struct {
		Cutoff time.Time `json:"cutoff"`
	}
	if err := json.Unmarshal(doc, &st); err != nil {
		return time.Time{}, false, fmt.Errorf("the backfill's state document is unreadable: %w", err)
	}
	return st.Cutoff, !st.Cutoff.IsZero(), nil
}
