package fakewoo

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Webhook is a webhook as the shop stores it, secret included (the REST API
// never returns the secret; tests read it here).
type Webhook struct {
	ID          int64
	Name        string
	Status      string
	Topic       string
	DeliveryURL string
	Secret      string
	APIVersion  string // "wp_api_v3" for webhooks created through /wc/v3
	// Failures counts consecutive failed deliveries (WooCommerce's
	// failure_count): only a successful delivery resets it; an update
	// (status=active included) keeps it, as WC_Webhook::set_status does and
	// the REST API cannot write it; a webhook created anew starts at 0.
	Failures int
	Created  time.Time
	Modified time.Time
}

var webhookStatuses = []string{"active", "paused", "disabled"}

// AddWebhook stores w as if made in the admin and returns its id.
func (s *Shop) AddWebhook(w Webhook) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	w.ID = s.nextHook
	s.nextHook++
	if w.APIVersion == "" {
		w.APIVersion = "wp_api_v3"
	}
	w.Created, w.Modified = s.now().UTC(), s.now().UTC()
	s.webhooks[w.ID] = &w
	return w.ID
}

// Webhooks returns every webhook, by id.
func (s *Shop) Webhooks() []Webhook {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Webhook, 0, len(s.webhooks))
	for _, w := range s.webhooks {
		out = append(out, *w)
	}
	slices.SortFunc(out, func(a, b Webhook) int { return int(a.ID - b.ID) })
	return out
}

// view is the REST representation: no secret, ever.
func (s *Shop) view(base string, w *Webhook) map[string]any {
	resource, event, _ := strings.Cut(w.Topic, ".")
	return map[string]any{
		"id": w.ID, "name": w.Name, "status": w.Status, "topic": w.Topic,
		"resource": resource, "event": event, "hooks": hooksOf(w.Topic), "delivery_url": w.DeliveryURL,
		"date_created": w.Created.Format(dateLayout), "date_created_gmt": w.Created.Format(dateLayout),
		"date_modified": w.Modified.Format(dateLayout), "date_modified_gmt": w.Modified.Format(dateLayout),
		"_links": map[string]any{
			"self":       []map[string]string{{"href": base + "/wp-json/wc/v3/webhooks/" + strconv.FormatInt(w.ID, 10)}},
			"collection": []map[string]string{{"href": base + "/wp-json/wc/v3/webhooks"}},
		},
	}
}

func hooksOf(topic string) []string {
	switch topic {
	case "order.created":
		return []string{"woocommerce_new_order"}
	case "order.updated":
		return []string{"woocommerce_update_order", "woocommerce_order_refunded"}
	}
	return []string{}
}

// writeView writes webhook views with WooCommerce's key order.
func (s *Shop) writeView(w http.ResponseWriter, status int, base string, hooks ...*Webhook) bool {
	var parts []string
	for _, h := range hooks {
		v := s.view(base, h)
		var b strings.Builder
		b.WriteByte('{')
		for i, k := range []string{"id", "name", "status", "topic", "resource", "event", "hooks", "delivery_url",
			"date_created", "date_created_gmt", "date_modified", "date_modified_gmt", "_links"} {
			if i > 0 {
				b.WriteByte(',')
			}
			val, err := WPEncode(v[k])
			if err != nil {
				return false
			}
			b.WriteString(`"` + k + `":`)
			b.Write(val)
		}
		b.WriteByte('}')
		parts = append(parts, b.String())
	}
	body := strings.Join(parts, ",")
	if status == -1 { // a list
		body = "[" + body + "]"
		status = http.StatusOK
	}
	writeJSON(w, status, []byte(body))
	return true
}

// webhookInput is the JSON a client sends to create or update.
type webhookInput struct {
	Name        *string `json:"name"`
	Status      *string `json:"status"`
	Topic       *string `json:"topic"`
	DeliveryURL *string `json:"delivery_url"`
	Secret      *string `json:"secret"`
}

func (s *Shop) serveWebhooks(w http.ResponseWriter, r *http.Request, id int64) {
	base := s.base(r)
	switch {
	case id == 0 && r.Method == http.MethodGet:
		s.listWebhooks(w, r, base)
	case id == 0 && r.Method == http.MethodPost:
		var in webhookInput
		if err := decodeBody(r, &in); err != nil {
			restError(w, http.StatusBadRequest, "rest_invalid_json", "Invalid JSON body passed.")
			return
		}
		if in.Topic == nil || in.DeliveryURL == nil {
			restError(w, http.StatusBadRequest, "rest_missing_callback_param", "Missing parameter(s): topic, delivery_url")
			return
		}
		if !validURL(*in.DeliveryURL) {
			restError(w, http.StatusBadRequest, "woocommerce_rest_shop_webhook_invalid_delivery_url", "Webhook delivery URL must be a valid URL starting with http:// or https://.")
			return
		}
		hook := Webhook{Name: "Webhook created on " + s.now().Format("Jan 02, 2006 @ 03:04 PM"), Status: "active",
			Topic: *in.Topic, DeliveryURL: *in.DeliveryURL, Secret: "generated-" + strconv.FormatInt(s.now().UnixNano(), 36)}
		if in.Name != nil && *in.Name != "" {
			hook.Name = *in.Name
		}
		if in.Secret != nil && *in.Secret != "" {
			hook.Secret = *in.Secret
		}
		if in.Status != nil && *in.Status != "" {
			if !slices.Contains(webhookStatuses, *in.Status) {
				restError(w, http.StatusBadRequest, "rest_invalid_param", "Invalid parameter(s): status")
				return
			}
			hook.Status = *in.Status
		}
		hook.ID = s.AddWebhook(hook)
		s.countWrite()
		s.mu.Lock()
		stored := *s.webhooks[hook.ID]
		s.mu.Unlock()
		s.writeView(w, http.StatusCreated, base, &stored)
	case id > 0:
		s.mu.Lock()
		hook, ok := s.webhooks[id]
		var cp Webhook
		if ok {
			cp = *hook
		}
		s.mu.Unlock()
		if !ok {
			restError(w, http.StatusNotFound, "woocommerce_rest_shop_webhook_invalid_id", "Invalid ID.")
			return
		}
		switch r.Method {
		case http.MethodGet:
			s.writeView(w, http.StatusOK, base, &cp)
		case http.MethodPut, http.MethodPatch, http.MethodPost:
			s.updateWebhook(w, r, base, id)
		case http.MethodDelete:
			if force, _ := strconv.ParseBool(r.URL.Query().Get("force")); !force {
				restError(w, http.StatusNotImplemented, "woocommerce_rest_trash_not_supported", "Webhooks do not support trashing.")
				return
			}
			s.mu.Lock()
			delete(s.webhooks, id)
			s.mu.Unlock()
			s.countWrite()
			s.writeView(w, http.StatusOK, base, &cp)
		default:
			restError(w, http.StatusNotFound, "rest_no_route", "No route was found matching the URL and request method.")
		}
	default:
		restError(w, http.StatusNotFound, "rest_no_route", "No route was found matching the URL and request method.")
	}
}

// updateWebhook applies what was sent, as WC_REST_Webhooks_V1_Controller
// does: empty values are ignored, the api_version and the failure count
// are left alone.
func (s *Shop) updateWebhook(w http.ResponseWriter, r *http.Request, base string, id int64) {
	var in webhookInput
	if err := decodeBody(r, &in); err != nil {
		restError(w, http.StatusBadRequest, "rest_invalid_json", "Invalid JSON body passed.")
		return
	}
	if in.Status != nil && *in.Status != "" && !slices.Contains(webhookStatuses, *in.Status) {
		restError(w, http.StatusBadRequest, "woocommerce_rest_shop_webhook_invalid_status", "Webhook status must be valid.")
		return
	}
	if in.DeliveryURL != nil && *in.DeliveryURL != "" && !validURL(*in.DeliveryURL) {
		restError(w, http.StatusBadRequest, "woocommerce_rest_shop_webhook_invalid_delivery_url", "Webhook delivery URL must be a valid URL starting with http:// or https://.")
		return
	}
	s.mu.Lock()
	hook, ok := s.webhooks[id]
	if !ok {
		s.mu.Unlock()
		restError(w, http.StatusBadRequest, "woocommerce_rest_shop_webhook_invalid_id", "ID is invalid.")
		return
	}
	set := func(dst *string, v *string) {
		if v != nil && *v != "" {
			*dst = *v
		}
	}
	set(&hook.Topic, in.Topic)
	set(&hook.DeliveryURL, in.DeliveryURL)
	set(&hook.Secret, in.Secret)
	set(&hook.Status, in.Status)
	set(&hook.Name, in.Name)
	hook.Modified = s.now().UTC()
	cp := *hook
	s.mu.Unlock()
	s.countWrite()
	s.writeView(w, http.StatusOK, base, &cp)
}

func (s *Shop) listWebhooks(w http.ResponseWriter, r *http.Request, base string) {
	q := r.URL.Query()
	page, per := 1, 10
	if v, err := strconv.Atoi(q.Get("page")); err == nil && v > 0 {
		page = v
	}
	if v := q.Get("per_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			writeJSON(w, http.StatusBadRequest, []byte(`{"code":"rest_invalid_param","message":"Invalid parameter(s): per_page","data":{"status":400,"params":{"per_page":"per_page must be between 1 (inclusive) and 100 (inclusive)"}}}`))
			return
		}
		per = n
	}
	all := s.Webhooks()
	if st := q.Get("status"); st != "" && st != "all" {
		all = slices.DeleteFunc(all, func(h Webhook) bool { return h.Status != st })
	}
	// WooCommerce lists newest first by default.
	slices.Reverse(all)
	total := len(all)
	pages := (total + per - 1) / per
	var hooks []*Webhook
	for i := (page - 1) * per; i < min(page*per, total); i++ {
		hooks = append(hooks, &all[i])
	}
	w.Header().Set("X-WP-Total", strconv.Itoa(total))
	w.Header().Set("X-WP-TotalPages", strconv.Itoa(pages))
	s.writeView(w, -1, base, hooks...)
}

func (s *Shop) countWrite() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.WebhookWrites++
}

func validURL(v string) bool {
	u, err := url.Parse(v)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}
