package logistos

import (
	"testing"

	"github.com/logistos-sync/logistos-sync/shared/queue"
)

func TestEventFor(t *testing.T) {
	cases := []struct {
		origin, topic, want string
	}{
		{queue.OriginWebhook, "order.created", "order.created"},
		{queue.OriginWebhook, "order.updated", "order.updated"},
		{queue.OriginReconcile, "order.created", "order.created"},
		{queue.OriginReconcile, "order.updated", "order.updated"},
		{queue.OriginBackfill, "", "order.backfill"},
		// As the previous version queued the backfill's orders.
		{queue.OriginBackfill, "order.backfill", "order.backfill"},
		// Neither topic nor origin: a message written by hand or by an
		// older producer, for the topic forwarded by default.
		{"", "", "order.created"},
		{queue.OriginWebhook, "", "order.created"},
		// Only the backfill's origin makes a backfill event: another
		// origin's topic passes through (and the forwarder skips one it
		// does not forward).
		{queue.OriginWebhook, "order.deleted", "order.deleted"},
	}
	for _, c := range cases {
		if got := EventFor(c.origin, c.topic); got != c.want {
			t.Errorf("EventFor(%q, %q) = %q, want %q", c.origin, c.topic, got, c.want)
		}
	}
}
