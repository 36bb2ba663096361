package state

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"
)

// Timing of a lease.
const (
	// LeaseSlack extends a lease past the invocation's deadline: Lambda
	// may take a moment to stop a timed-out invocation.
	LeaseSlack = 30 * time.Second
	// LeaseTTL is the lease of a run without a deadline (local runs); each
	// renewal extends it.
	LeaseTTL = 5 * time.Minute
)

// Lease is the part of a state document that says which run may work on
// it: a backfill's checkpoint, reconcile's high-water mark. A run takes
// the lease in the document it writes with Put, so of two runs started at
// once one gets ErrConflict; a run that finds the lease held by another
// stops. A run that dies keeps it only until LeaseUntil.
type Lease struct {
	// Owner is the run holding the lease until LeaseUntil; "" when free.
	Owner      string    `json:"owner"`
	LeaseUntil time.Time `json:"lease_until"`
}

// HeldByAnother reports whether a run other than run holds the lease at now.
func (l *Lease) HeldByAnother(run string, now time.Time) bool {
	return l.Owner != "" && l.Owner != run && l.LeaseUntil.After(now)
}

// Take gives the lease to run for as long as the invocation of ctx may
// last (Renew).
func (l *Lease) Take(ctx context.Context, run string, now time.Time) {
	l.Owner = run
	l.Renew(ctx, now)
}

// Renew extends the lease to LeaseSlack past ctx's deadline, or to LeaseTTL
// from now when ctx has none.
func (l *Lease) Renew(ctx context.Context, now time.Time) {
	if dl, ok := ctx.Deadline(); ok {
		l.LeaseUntil = dl.Add(LeaseSlack)
		return
	}
	l.LeaseUntil = now.Add(LeaseTTL)
}

// Release frees the lease.
func (l *Lease) Release() { l.Owner, l.LeaseUntil = "", time.Time{} }

// NewRunID names a run, started at t, in its logs, its report and the
// lease it holds: sortable by time, unique by a random suffix.
func NewRunID(t time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return t.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}
