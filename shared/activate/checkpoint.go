package activate

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"

	"github.com/logistos-sync/logistos-sync/shared/state"
)

// errLostLease means another run took the backfill over.
var errLostLease = errors.New("another run took over the backfill (its checkpoint lease)")

// maybeSave writes the checkpoint when it changed and CheckpointEvery passed.
func (r *run) maybeSave(ctx context.Context) error {
	if !r.dirty || r.h.now().Sub(r.lastSave) < durationOr(r.h.CheckpointEvery, DefaultCheckpointEvery) {
		return nil
	}
	r.st.Renew(ctx, r.h.now())
	err := r.save(ctx)
	if err != nil && !errors.Is(err, errLostLease) {
		// Keep going: the next tick tries again, and the final write must succeed.
		r.log.LogAttrs(ctx, slog.LevelWarn, "backfill checkpoint write failed", slog.String("error", err.Error()))
		return nil
	}
	return err
}

// save writes the checkpoint; ErrConflict becomes errLostLease.
func (r *run) save(ctx context.Context) error {
	doc, err := json.Marshal(r.st)
	if err != nil {
		return err
	}
	v, err := r.h.State.Put(ctx, state.BackfillID, doc, r.version)
	if errors.Is(err, state.ErrConflict) {
		return errLostLease
	}
	if err != nil {
		return err
	}
	r.version, r.dirty, r.lastSave = v, false, r.h.now()
	return nil
}

// saveWithin is save bounded by finalWriteTimeout, for the last write.
func (r *run) saveWithin(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, finalWriteTimeout)
	defer cancel()
	return r.save(ctx)
}

// record moves the checkpoint past d, the next page handed over.
func (r *run) record(d *pageResult) {
	st := r.st
	sent := int64(d.orders - d.dead)
	st.Enqueued += sent
	st.DeadLettered += int64(d.dead)
	r.enqueuedThisRun += sent
	r.dirty = true
	if d.gap {
		st.Repaired += sent
		return
	}
	if d.total >= 0 {
		st.Total = d.total
	}
	if d.totalPages >= 0 {
		st.TotalPages = d.totalPages
	}
	if d.last && d.listed == 0 {
		return // the empty page that confirms the end: no page of orders
	}
	st.NextPage, st.LastID, st.LastTotal = d.after.Page, d.after.LastID, d.after.LastTotal
	r.pagesThisRun++
}
