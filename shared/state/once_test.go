package state_test

import (
	"testing"
	"time"

	"github.com/logistos-sync/logistos-sync/internal/oncetest"
	"github.com/logistos-sync/logistos-sync/shared/state"
)

func TestMemoryOnce(t *testing.T) {
	now := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	oncetest.Run(t, &state.MemoryOnce{Now: func() time.Time { return now }}, &now)
}
