package activate

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/logistos-sync/logistos-sync/shared/hookreg"
	"github.com/logistos-sync/logistos-sync/shared/wooapi"
)

// WebhookReport says what the webhook step did.
type WebhookReport struct {
	Outcome     string `json:"outcome"`
	Detail      string `json:"detail"`
	DeliveryURL string `json:"delivery_url"`
	// Topics each have a webhook: order.created, and order.updated when
	// it is forwarded.
	Topics []string `json:"topics"`
	// WebhookIDs is the webhook of each topic (none yet in a dry run that
	// would create it).
	WebhookIDs map[string]int64 `json:"webhook_ids,omitempty"`
	Actions    []string         `json:"actions"`
	// Others counts webhooks of these topics delivering elsewhere (left
	// alone; e.g. an old integration that may also send orders to Logistos).
	Others     int   `json:"other_webhooks"`
	Writes     int   `json:"writes"`
	DurationMS int64 `json:"duration_ms"`
}

// webhook makes sure exactly one active webhook per topic (WebhookTopics:
// order.created, and order.updated when forwarded) delivers to WebhookURL
// with the deployment's secret (hookreg: the same plan reconcile repairs
// with). One that is not active is replaced by a new one rather than
// re-activated: WooCommerce keeps a webhook's failure count, and a
// re-activated webhook would be disabled again at its next failed
// delivery. WooCommerce never returns a webhook's secret, so it cannot tell
// whether a kept one signs with ours: every run sends the secret again, one
// update per topic, which are the only writes a run makes once the webhooks
// are in shape. That also picks up a rotated secret.
func (h *Handler) webhook(ctx context.Context, log *slog.Logger, shop *wooapi.Client, ev Event) (*WebhookReport, error) {
	start := h.now()
	rep := &WebhookReport{DeliveryURL: h.WebhookURL, Actions: []string{}}
	defer func() { rep.DurationMS = ms(h.now().Sub(start)) }()
	fail := func(err error) (*WebhookReport, error) {
		rep.Outcome, rep.Detail = OutcomeFailed, err.Error()
		return rep, err
	}
	secrets, err := h.WebhookSecret.Values(ctx)
	if err != nil || len(secrets) == 0 || len(secrets[0]) == 0 {
		if !h.hub() || !ev.DryRun {
			return fail(fmt.Errorf("read the webhook secret: %v", err))
		}
		// A dry run for a hub shop not yet connected: its secret is made
		// when its key is adopted, and a plan writes nothing.
		secrets = [][]byte{[]byte("(made at activation)")}
	}
	plan, err := hookreg.Inspect(ctx, shop, hookreg.Want{URL: h.WebhookURL, Secret: string(secrets[0]),
		Topics: h.WebhookTopics, RefreshSecret: true})
	if err != nil {
		return fail(err)
	}
	rep.Topics, rep.Others, rep.WebhookIDs = plan.Topics, plan.Others, plan.IDs
	for _, w := range plan.Writes {
		rep.Actions = append(rep.Actions, w.Action)
		if ev.DryRun {
			continue
		}
		if err := w.Do(ctx); err != nil {
			return fail(err)
		}
		rep.Writes++
		log.LogAttrs(ctx, slog.LevelInfo, "webhook changed", slog.String("action", w.Action))
	}
	rep.Outcome = OutcomeDone
	whose := "the deployment's"
	if h.hub() {
		whose = "the shop's own"
		if !ev.DryRun {
			h.retirePrevious(ctx, log)
		}
	}
	rep.Detail = fmt.Sprintf("webhooks %s deliver to %s, active, with %s secret", plan.Webhooks(), h.WebhookURL, whose)
	if ev.DryRun {
		rep.Outcome, rep.Detail = OutcomeWouldDo, "would "+strings.Join(rep.Actions, "; ")
	}
	if rep.Others > 0 {
		rep.Detail += fmt.Sprintf("; %d other webhook(s) of these topics deliver elsewhere and were left alone", rep.Others)
	}
	log.LogAttrs(ctx, slog.LevelInfo, "webhook step", slog.String("outcome", rep.Outcome),
		slog.String("webhooks", plan.Webhooks()), slog.Int("writes", rep.Writes), slog.Int("others", rep.Others))
	return rep, nil
}
