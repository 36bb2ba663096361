package activate

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/logistos-sync/logistos-sync/shared/wooapi"

	"github.com/logistos-sync/logistos-sync/shared/woohook"
)

// WebhookName is the name given to the webhook this project creates.
const WebhookName = "Logistos Sync (order.created)"

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
// WebhookURL with the deployment's secret.
//
// Webhooks are ours when they deliver order.created to WebhookURL (unique
// per deployment); others are never touched. Of ours, one is kept (an
// active one if any, else the oldest) and the rest are deleted. WooCommerce
// never returns a webhook's secret, so it cannot tell whether the kept one
// signs with ours: every run sends the secret again in one update, which is
// the only write a run makes once the webhook is in shape. That write also
// picks up a rotated secret. Webhooks created here go through /wc/v3, which
// makes WooCommerce deliver the v3 order JSON (api_version wp_api_v3).
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
	secret := string(secrets[0])

	hooks, err := shop.ListWebhooks(ctx)
	if err != nil {
		return fail(err)
	}
	var ours []wooapi.Webhook
	for _, w := range hooks {
		switch {
		case w.Topic != woohook.TopicOrderCreated:
		case sameURL(w.DeliveryURL, h.WebhookURL):
			ours = append(ours, w)
		default:
			rep.Others++
		}
	}
	// Keep an active one if there is one, else the oldest.
	slices.SortStableFunc(ours, func(a, b wooapi.Webhook) int {
		if (a.Status == wooapi.WebhookActive) != (b.Status == wooapi.WebhookActive) {
			if a.Status == wooapi.WebhookActive {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.ID, b.ID)
	})

	type write struct {
		action string
		do     func() error
	}
	var writes []write
	if len(ours) == 0 {
		writes = append(writes, write{"create", func() error {
			w, err := shop.CreateWebhook(ctx, wooapi.WebhookChange{Name: WebhookName, Status: wooapi.WebhookActive,
				Topic: woohook.TopicOrderCreated, DeliveryURL: h.WebhookURL, Secret: secret})
			rep.WebhookID = w.ID
			return err
		}})
	} else {
		keep := ours[0]
		rep.WebhookID = keep.ID
		change := wooapi.WebhookChange{Secret: secret}
		action := fmt.Sprintf("refresh secret of #%d", keep.ID)
		if keep.Status != wooapi.WebhookActive {
			change.Status = wooapi.WebhookActive
			action = fmt.Sprintf("re-activate #%d (was %s) and refresh its secret", keep.ID, keep.Status)
		}
		writes = append(writes, write{action, func() error {
			_, err := shop.UpdateWebhook(ctx, keep.ID, change)
			return err
		}})
		for _, dup := range ours[1:] {
			writes = append(writes, write{fmt.Sprintf("delete duplicate #%d (%s)", dup.ID, dup.Status), func() error {
				return shop.DeleteWebhook(ctx, dup.ID)
			}})
		}
	}
	for _, w := range writes {
		rep.Actions = append(rep.Actions, w.action)
		if ev.DryRun {
			continue
		}
		if err := w.do(); err != nil {
			return fail(err)
		}
		rep.Writes++
		log.LogAttrs(ctx, slog.LevelInfo, "webhook changed", slog.String("action", w.action))
	}
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

// sameURL compares delivery URLs as WooCommerce users write them: scheme
// and host case-insensitively, a trailing slash ignored.
func sameURL(a, b string) bool {
	norm := func(s string) string {
		s = strings.TrimRight(strings.TrimSpace(s), "/")
		if i := strings.Index(s, "://"); i >= 0 {
			j := strings.IndexByte(s[i+3:], '/')
			if j < 0 {
				return strings.ToLower(s)
			}
			return strings.ToLower(s[:i+3+j]) + s[i+3+j:]
		}
		return s
	}
	return norm(a) == norm(b)
}
