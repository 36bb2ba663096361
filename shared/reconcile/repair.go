package reconcile

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/logistos-sync/logistos-sync/shared/hookreg"
	"github.com/logistos-sync/logistos-sync/shared/metrics"
	"github.com/logistos-sync/logistos-sync/shared/wooapi"
)

// WebhookReport says what the repair found and did.
type WebhookReport struct {
	Outcome string `json:"outcome"` // in_shape, repaired, would_repair, failed
	// Topics each have a webhook: order.created, and order.updated when
	// it is forwarded.
	Topics []string `json:"topics"`
	// WebhookIDs is the webhook of each topic (none yet for one a dry run
	// would create).
	WebhookIDs map[string]int64 `json:"webhook_ids,omitempty"`
	Actions    []string         `json:"actions"`
	Error      string           `json:"error,omitempty"`
	// err is the failure, for its kind (a 401 counts towards disconnecting
	// a hub shop).
	err error
}

// Webhook repair outcomes.
const (
	WebhookInShape     = "in_shape"
	WebhookRepairedOut = "repaired"
	WebhookWouldRepair = "would_repair"
	WebhookFailed      = "failed"
)

// repair puts the webhooks back in shape: for each of WebhookTopics
// (order.created, and order.updated when forwarded) exactly one active
// webhook at WebhookURL. One that is not active is replaced, not
// re-activated (hookreg.Inspect says why). In shape, it writes nothing.
func (h *Handler) repair(ctx context.Context, log *slog.Logger, t *target, shop *wooapi.Client, dry bool) *WebhookReport {
	rep := &WebhookReport{Topics: h.WebhookTopics, Actions: []string{}}
	fail := func(err error) *WebhookReport {
		rep.Outcome, rep.Error, rep.err = WebhookFailed, err.Error(), err
		log.LogAttrs(ctx, slog.LevelError, "webhook repair failed", slog.String("error", err.Error()))
		return rep
	}
	secrets, err := t.hookSecret.Values(ctx)
	if err != nil || len(secrets) == 0 || len(secrets[0]) == 0 {
		return fail(fmt.Errorf("read the webhook secret: %v", err))
	}
	plan, err := hookreg.Inspect(ctx, shop, hookreg.Want{URL: t.hookURL, Secret: string(secrets[0]), Topics: h.WebhookTopics})
	if err != nil {
		return fail(err)
	}
	rep.Topics, rep.WebhookIDs, rep.Actions = plan.Topics, plan.IDs, plan.Actions()
	switch {
	case len(plan.Writes) == 0:
		rep.Outcome = WebhookInShape
		return rep
	case dry:
		rep.Outcome = WebhookWouldRepair
		return rep
	}
	for _, w := range plan.Writes {
		if err := w.Do(ctx); err != nil {
			return fail(err)
		}
		log.LogAttrs(ctx, slog.LevelWarn, "webhook repaired", slog.String("action", w.Action))
	}
	rep.Outcome = WebhookRepairedOut
	h.Metrics.Count(metrics.WebhookRepaired, 1)
	return rep
}
