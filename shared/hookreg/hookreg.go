// Package hookreg keeps this deployment's webhook registered in the shop:
// exactly one active order.created webhook delivering to the deployment's
// webhook URL. activate's webhook step and reconcile's repair both use it,
// so the two can never disagree on what "in shape" means.
package hookreg

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/logistos-sync/logistos-sync/shared/wooapi"
	"github.com/logistos-sync/logistos-sync/shared/woohook"
)

// Name is the name given to the webhook this project creates.
const Name = "Logistos Sync (order.created)"

// Shop is the part of the REST client registration uses (wooapi.Client).
type Shop interface {
	ListWebhooks(ctx context.Context) ([]wooapi.Webhook, error)
	CreateWebhook(ctx context.Context, w wooapi.WebhookChange) (wooapi.Webhook, error)
	UpdateWebhook(ctx context.Context, id int64, w wooapi.WebhookChange) (wooapi.Webhook, error)
	DeleteWebhook(ctx context.Context, id int64) error
}

// Want is the webhook wanted.
type Want struct {
	URL    string // the deployment's webhook URL
	Secret string // the deployment's webhook secret
	// RefreshSecret sends the secret even to a webhook already in shape.
	// WooCommerce never returns a secret, so a wrong one cannot be seen:
	// activate always sends it (that also pushes a rotated secret), while
	// reconcile, running every few minutes, writes only to repair.
	RefreshSecret bool
}

// Write is one change to the shop's webhooks.
type Write struct {
	Action string // what it does, for reports and logs
	Do     func(ctx context.Context) error
}

// Plan is what it takes to put the shop's webhooks in shape.
type Plan struct {
	// WebhookID is the webhook kept (0 when one is to be created; set by
	// the create once done).
	WebhookID int64
	// InShape: exactly one of ours, active, before any write.
	InShape bool
	Writes  []Write
	// Others counts order.created webhooks delivering elsewhere (left
	// alone; e.g. an old integration that may also send orders to Logistos).
	Others int
}

// Actions are the plan's writes, described.
func (p *Plan) Actions() []string {
	out := make([]string, len(p.Writes))
	for i, w := range p.Writes {
		out[i] = w.Action
	}
	return out
}

// Inspect lists the shop's webhooks and plans the writes that put them in
// shape. Webhooks are ours when they deliver order.created to want.URL
// (unique per deployment); others are never touched. Of ours, one is kept
// (an active one if any, else the oldest), re-activated if needed and given
// the secret; the rest are deleted. Webhooks created here go through /wc/v3,
// which makes WooCommerce deliver the v3 order JSON (api_version wp_api_v3).
func Inspect(ctx context.Context, shop Shop, want Want) (*Plan, error) {
	hooks, err := shop.ListWebhooks(ctx)
	if err != nil {
		return nil, err
	}
	p := &Plan{}
	var ours []wooapi.Webhook
	for _, w := range hooks {
		switch {
		case w.Topic != woohook.TopicOrderCreated:
		case SameURL(w.DeliveryURL, want.URL):
			ours = append(ours, w)
		default:
			p.Others++
		}
	}
	slices.SortStableFunc(ours, func(a, b wooapi.Webhook) int {
		if (a.Status == wooapi.WebhookActive) != (b.Status == wooapi.WebhookActive) {
			if a.Status == wooapi.WebhookActive {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.ID, b.ID)
	})
	p.InShape = len(ours) == 1 && ours[0].Status == wooapi.WebhookActive
	if len(ours) == 0 {
		p.Writes = append(p.Writes, Write{"create", func(ctx context.Context) error {
			w, err := shop.CreateWebhook(ctx, wooapi.WebhookChange{Name: Name, Status: wooapi.WebhookActive,
				Topic: woohook.TopicOrderCreated, DeliveryURL: want.URL, Secret: want.Secret})
			p.WebhookID = w.ID
			return err
		}})
		return p, nil
	}
	keep := ours[0]
	p.WebhookID = keep.ID
	if keep.Status != wooapi.WebhookActive {
		p.Writes = append(p.Writes, Write{fmt.Sprintf("re-activate #%d (was %s) and refresh its secret", keep.ID, keep.Status),
			func(ctx context.Context) error {
				_, err := shop.UpdateWebhook(ctx, keep.ID, wooapi.WebhookChange{Status: wooapi.WebhookActive, Secret: want.Secret})
				return err
			}})
	} else if want.RefreshSecret {
		p.Writes = append(p.Writes, Write{fmt.Sprintf("refresh secret of #%d", keep.ID), func(ctx context.Context) error {
			_, err := shop.UpdateWebhook(ctx, keep.ID, wooapi.WebhookChange{Secret: want.Secret})
			return err
		}})
	}
	for _, dup := range ours[1:] {
		p.Writes = append(p.Writes, Write{fmt.Sprintf("delete duplicate #%d (%s)", dup.ID, dup.Status), func(ctx context.Context) error {
			return shop.DeleteWebhook(ctx, dup.ID)
		}})
	}
	return p, nil
}

// SameURL compares delivery URLs as WooCommerce users write them: scheme
// and host case-insensitively, a trailing slash ignored.
func SameURL(a, b string) bool {
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
