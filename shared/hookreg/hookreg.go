// Package hookreg keeps this deployment's webhooks registered in the shop:
// for each topic registered (order.created, and order.updated when it is
// forwarded), exactly one active webhook delivering to the deployment's
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

// Registrable are the topics a webhook is registered for, in the order
// they are put in shape. order.deleted is not one: its body is only
// {"id":N}, no order to forward.
var Registrable = []string{woohook.TopicOrderCreated, woohook.TopicOrderUpdated}

// Topics returns the forwarded topics (FORWARD_TOPICS) that are
// Registrable, in Registrable's order.
func Topics(forwarded []string) []string {
	var out []string
	for _, t := range Registrable {
		if slices.Contains(forwarded, t) {
			out = append(out, t)
		}
	}
	return out
}

// Name is the name given to the webhook this project creates for topic.
func Name(topic string) string { return "Logistos Sync (" + topic + ")" }

// Shop is the part of the REST client registration uses (wooapi.Client).
type Shop interface {
	ListWebhooks(ctx context.Context) ([]wooapi.Webhook, error)
	CreateWebhook(ctx context.Context, w wooapi.WebhookChange) (wooapi.Webhook, error)
	UpdateWebhook(ctx context.Context, id int64, w wooapi.WebhookChange) (wooapi.Webhook, error)
	DeleteWebhook(ctx context.Context, id int64) error
}

// Want is the webhooks wanted.
type Want struct {
	URL    string // the deployment's webhook URL
	Secret string // the deployment's webhook secret
	// Topics each have one webhook (Topics of FORWARD_TOPICS); only
	// order.created when empty.
	Topics []string
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
	// Topics are the topics planned for, in order.
	Topics []string
	// IDs is the webhook kept for each topic; a topic whose webhook is to
	// be created is absent until its create is done.
	IDs map[string]int64
	// InShape: for each topic exactly one of ours, active, before any write.
	InShape bool
	Writes  []Write
	// Others counts webhooks of these topics delivering elsewhere (left
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

// Webhooks names the webhook of each topic, for reports: "#12 order.created,
// #13 order.updated" (a topic without one yet: "order.updated (to create)").
func (p *Plan) Webhooks() string {
	parts := make([]string, len(p.Topics))
	for i, t := range p.Topics {
		if id, ok := p.IDs[t]; ok {
			parts[i] = fmt.Sprintf("#%d %s", id, t)
		} else {
			parts[i] = t + " (to create)"
		}
	}
	return strings.Join(parts, ", ")
}

// Inspect lists the shop's webhooks and plans the writes that put them in
// shape. Webhooks are ours when they deliver one of want.Topics to want.URL
// (unique per deployment); others are never touched. Per topic, an active
// one of ours is kept (the oldest) and given the secret when asked; when
// none is active, a new one is created (secret sent) in place of the
// disabled or paused ones, because WooCommerce keeps a webhook's failure
// count across a status change and would disable a re-activated one at its
// next failed delivery, while a new one starts at 0. It is created before
// the old ones are deleted, so that some webhook exists throughout. The
// rest of ours are deleted. Webhooks created here go through /wc/v3, which
// makes WooCommerce deliver the v3 order JSON (api_version wp_api_v3).
func Inspect(ctx context.Context, shop Shop, want Want) (*Plan, error) {
	hooks, err := shop.ListWebhooks(ctx)
	if err != nil {
		return nil, err // its Op says "list webhooks"
	}
	p := &Plan{Topics: want.Topics, IDs: map[string]int64{}, InShape: true}
	if len(p.Topics) == 0 {
		p.Topics = []string{woohook.TopicOrderCreated}
	}
	ours := map[string][]wooapi.Webhook{}
	for _, w := range hooks {
		switch {
		case !slices.Contains(p.Topics, w.Topic):
		case SameURL(w.DeliveryURL, want.URL):
			ours[w.Topic] = append(ours[w.Topic], w)
		default:
			p.Others++
		}
	}
	for _, topic := range p.Topics {
		p.plan(shop, want, topic, ours[topic])
	}
	return p, nil
}

// plan adds the writes that leave topic exactly one active webhook of
// ours, given ours, the webhooks of that topic at the URL.
func (p *Plan) plan(shop Shop, want Want, topic string, ours []wooapi.Webhook) {
	slices.SortStableFunc(ours, func(a, b wooapi.Webhook) int {
		if (a.Status == wooapi.WebhookActive) != (b.Status == wooapi.WebhookActive) {
			if a.Status == wooapi.WebhookActive {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.ID, b.ID)
	})
	if len(ours) != 1 || ours[0].Status != wooapi.WebhookActive {
		p.InShape = false
	}
	stale, what := ours, "replaced"
	if len(ours) > 0 && ours[0].Status == wooapi.WebhookActive {
		keep := ours[0]
		stale, what = ours[1:], "duplicate"
		p.IDs[topic] = keep.ID
		if want.RefreshSecret {
			p.Writes = append(p.Writes, Write{fmt.Sprintf("refresh secret of %s webhook #%d", topic, keep.ID), func(ctx context.Context) error {
				_, err := shop.UpdateWebhook(ctx, keep.ID, wooapi.WebhookChange{Secret: want.Secret})
				return wrap(err, topic)
			}})
		}
	} else {
		action := "create " + topic + " webhook"
		if len(stale) > 0 {
			action += fmt.Sprintf(" in place of #%d (%s)", stale[0].ID, stale[0].Status)
		}
		p.Writes = append(p.Writes, Write{action, func(ctx context.Context) error {
			w, err := shop.CreateWebhook(ctx, wooapi.WebhookChange{Name: Name(topic), Status: wooapi.WebhookActive,
				Topic: topic, DeliveryURL: want.URL, Secret: want.Secret})
			if err == nil {
				p.IDs[topic] = w.ID
			}
			return wrap(err, topic)
		}})
	}
	for _, old := range stale {
		p.Writes = append(p.Writes, Write{fmt.Sprintf("delete %s %s webhook #%d (%s)", what, topic, old.ID, old.Status), func(ctx context.Context) error {
			return wrap(shop.DeleteWebhook(ctx, old.ID), topic)
		}})
	}
}

// wrap names the topic of a write that failed (the REST client's error
// names the write and the webhook), keeping err for errors.Is and As; nil
// stays nil.
func wrap(err error, topic string) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s webhook: %w", topic, err)
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
