package activate

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/logistos-sync/logistos-sync/shared/hookreg"
	"github.com/logistos-sync/logistos-sync/shared/wooapi"
)

// WebhookName is the name given to the webhook this project creates.
const WebhookName = hookreg.Name

// WebhookReport says what the webhook step did.
type WebhookReport struct {
	Outcome     string   `json:"outcome"`
	Detail      string   `json:"detail"`
	WebhookID   int64    `json:"webhook_id,omitempty"`
	DeliveryURL string   `json:"delivery_url"`
	Actions     []string `json:"actions"`
	// Others counts order.created webhooks delivering elsewhere (left alone;
	// e.g. an old integration that may also send orders to Logistos).
	Others     int   `json:"other_order_created_webhooks"`
	Writes     int   `json:"writes"`
	DurationMS int64 `json:"duration_ms"`
}

// webhook makes sure exactly one active order.created webhook delivers to
// WebhookURL with the deployment's secret (hookreg: the same plan reconcile
// repairs with). WooCommerce never returns a webhook's secret, so it cannot
// tell whether the kept one signs with ours: every run sends the secret
// again in one update, which is the only write a run makes once the webhook
// is in shape. That write also picks up a rotated secret.
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
		return fail(fmt.Errorf("read the webhook secret: %v", err))
	}
	plan, err := hookreg.Inspect(ctx, shop, hookreg.Want{URL: h.WebhookURL, Secret: string(secrets[0]), RefreshSecret: true})
	if err != nil {
		return fail(err)
	}
	rep.Others, rep.WebhookID = plan.Others, plan.WebhookID
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
	rep.WebhookID = plan.WebhookID
	rep.Outcome = OutcomeDone
	rep.Detail = fmt.Sprintf("webhook #%d delivers order.created to %s, active, with the deployment's secret", rep.WebhookID, h.WebhookURL)
	if ev.DryRun {
		rep.Outcome, rep.Detail = OutcomeWouldDo, "would "+strings.Join(rep.Actions, "; ")
	}
	if rep.Others > 0 {
		rep.Detail += fmt.Sprintf("; %d other order.created webhook(s) deliver elsewhere and were left alone", rep.Others)
	}
	log.LogAttrs(ctx, slog.LevelInfo, "webhook step", slog.String("outcome", rep.Outcome),
		slog.Int64("webhook_id", rep.WebhookID), slog.Int("writes", rep.Writes), slog.Int("others", rep.Others))
	return rep, nil
}
