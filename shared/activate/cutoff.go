package activate

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/logistos-sync/logistos-sync/shared/state"
)

// Cutoff is the activation's backfill cut-off: every order created before
// it is the backfill's to queue, every later one the webhook's (and
// reconcile's, whose first window starts here). ok is false before a
// backfill has fixed one (activation not run, or run without the backfill).
func Cutoff(ctx context.Context, store state.Store) (cutoff time.Time, ok bool, err error) {
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
