package fakewoo

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/logistos-sync/logistos-sync/shared/jsonscan"
	"github.com/logistos-sync/logistos-sync/shared/woohook"
)

// Statuses WooCommerce accepts in ?status=.
var validStatuses = []string{"any", "trash", "pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed", "checkout-draft"}

// AddOrders creates n orders now, after every existing order, and returns
// their ids: orders placed while a backfill runs.
func (s *Shop) AddOrders(n int) []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]int64, n)
	for i := range ids {
		s.added = append(s.added, s.now().UTC().Truncate(time.Second))
		ids[i] = s.maxID()
	}
	return ids
}

// Trash moves an order to the trash: ?status=any no longer lists it.
func (s *Shop) Trash(id int64) { s.SetStatus(id, "trash") }

// Delete removes an order for good.
func (s *Shop) Delete(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gone[id] = true
}

// SetStatus changes an order's status.
func (s *Shop) SetStatus(id int64, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.statuses[id] = status
}

// Modify changes order id now (an edit in WP admin, a refund): its
// date_modified becomes the shop's clock, and order.updated is delivered
// to every active order.updated webhook before Modify returns.
func (s *Shop) Modify(id int64) {
	s.mu.Lock()
	if s.modified == nil {
		s.modified = make(map[int64]time.Time)
	}
	s.modified[id] = s.now().UTC().Truncate(time.Second)
	s.mu.Unlock()
	s.deliver(woohook.TopicOrderUpdated, id)
}

// modifiedAt is order id's date_modified; its creation when never modified.
func (s *Shop) modifiedAt(id int64) time.Time {
	if t, ok := s.modified[id]; ok {
		return t
	}
	return s.created(id)
}

// Pad makes order id carry n bytes of incompressible text (a meta_data
// value, as a plugin storing a file in an order might): an order too large
// for an SQS message even gzip-compressed, when n is about 1 MB or more.
func (s *Shop) Pad(id int64, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.padding[id] = n
}

// MaxID is the highest order id so far.
func (s *Shop) MaxID() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxID()
}

func (s *Shop) maxID() int64 { return s.initial + int64(len(s.added)) }

// Created is when order id was created (the shop's clock, UTC).
func (s *Shop) Created(id int64) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.created(id)
}

func (s *Shop) created(id int64) time.Time {
	if id <= s.initial {
		return s.epoch.Add(time.Duration(id) * s.opts.Spacing)
	}
	return s.added[id-s.initial-1]
}

// Status is order id's status; "" when it does not exist.
func (s *Shop) Status(id int64) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.status(id)
}

func (s *Shop) status(id int64) string {
	if id < 1 || id > s.maxID() || s.gone[id] {
		return ""
	}
	if st, ok := s.statuses[id]; ok {
		return st
	}
	return statusCycle[int(id)%len(statusCycle)]
}

// OrderJSON is order id as the REST API lists it, links under base.
func (s *Shop) OrderJSON(base string, id int64) ([]byte, bool) {
	s.mu.Lock()
	st, created, modified, pad := s.status(id), time.Time{}, time.Time{}, s.padding[id]
	if st != "" {
		created, modified = s.created(id), s.modifiedAt(id)
	}
	s.mu.Unlock()
	if st == "" {
		return nil, false
	}
	b, err := build(base, id, st, created, modified, pad)
	return b, err == nil
}

func (s *Shop) getOrder(w http.ResponseWriter, r *http.Request, id int64) {
	b, ok := s.OrderJSON(s.base(r), id)
	if !ok {
		restError(w, http.StatusNotFound, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
		return
	}
	writeJSON(w, http.StatusOK, b)
}

// listQuery is a parsed GET /orders.
type listQuery struct {
	page, perPage int
	statuses      []string
	before, after time.Time
	include       []int64
	// modBefore and modAfter filter on date_modified (zero: none).
	modBefore, modAfter time.Time
	fields              []string
	desc                bool
}

func parseList(q url.Values) (listQuery, string) {
	lq := listQuery{page: 1, perPage: 10, statuses: []string{"any"}, desc: true}
	var err error
	if v := q.Get("page"); v != "" {
		if lq.page, err = strconv.Atoi(v); err != nil || lq.page < 1 {
			return lq, "page"
		}
	}
	if v := q.Get("per_page"); v != "" {
		if lq.perPage, err = strconv.Atoi(v); err != nil || lq.perPage < 1 || lq.perPage > 100 {
			return lq, "per_page"
		}
	}
	var st []string
	for _, v := range append(q["status"], q["status[]"]...) {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				st = append(st, p)
			}
		}
	}
	for k, vs := range q {
		if strings.HasPrefix(k, "status[") && k != "status[]" {
			st = append(st, vs...)
		}
	}
	if len(st) > 0 {
		for _, v := range st {
			if !slices.Contains(validStatuses, v) {
				return lq, "status"
			}
		}
		lq.statuses = st
	}
	for name, dst := range map[string]*time.Time{"before": &lq.before, "after": &lq.after,
		"modified_before": &lq.modBefore, "modified_after": &lq.modAfter} {
		if v := q.Get(name); v != "" {
			if *dst, err = parseDate(v); err != nil {
				return lq, name
			}
		}
	}
	// An order is modified no earlier than it was created.
	if !lq.modBefore.IsZero() && (lq.before.IsZero() || lq.modBefore.Before(lq.before)) {
		lq.before = lq.modBefore
	}
	if v := q.Get("include"); v != "" {
		for _, p := range strings.Split(v, ",") {
			id, err := strconv.ParseInt(strings.TrimSpace(p), 10, 64)
			if err != nil || id < 1 {
				return lq, "include"
			}
			lq.include = append(lq.include, id)
		}
	}
	if v := q.Get("_fields"); v != "" {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				lq.fields = append(lq.fields, f)
			}
		}
	}
	switch q.Get("orderby") {
	case "", "date", "id", "include", "title", "slug", "modified":
	default:
		return lq, "orderby"
	}
	switch q.Get("order") {
	case "", "desc":
	case "asc":
		lq.desc = false
	default:
		return lq, "order"
	}
	return lq, ""
}

// parseDate reads ISO 8601 as rest_parse_date does: a zone is optional.
// The shop's timezone is UTC, so dates_are_gmt changes nothing here.
func parseDate(v string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339, dateLayout} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("not ISO 8601")
}

// listOrders answers GET /orders; f, when not nil, is a paging fault to
// misbehave with.
func (s *Shop) listOrders(w http.ResponseWriter, r *http.Request, f *Fault) {
	lq, bad := parseList(r.URL.Query())
	if bad != "" {
		body := fmt.Sprintf(`{"code":"rest_invalid_param","message":"Invalid parameter(s): %s","data":{"status":400,"params":{"%s":"Invalid parameter."}}}`, bad, bad)
		writeJSON(w, http.StatusBadRequest, []byte(body))
		return
	}
	start := time.Now()
	if s.opts.OnList != nil {
		s.opts.OnList(lq.page)
	}
	if f != nil && f.ServePage > 0 {
		lq.page = f.ServePage
	}
	if f != nil && f.Descending {
		lq.desc = true
	}
	if f != nil && f.PerPageCap > 0 {
		lq.perPage = min(lq.perPage, f.PerPageCap)
	}
	ids, total, created, modified, statuses, pads := s.window(lq)
	base := s.base(r)
	// One buffer sized for the page (orders are about 2.5 KB) and one
	// scratch buffer for all of its orders: a page is built often.
	body := make([]byte, 0, 2+len(ids)*3<<10)
	var scratch bytes.Buffer
	body = append(body, '[')
	for i, id := range ids {
		if i > 0 {
			body = append(body, ',')
		}
		start := len(body)
		var err error
		body, err = appendOrder(body, &scratch, base, id, statuses[i], created[i], modified[i], pads[i])
		if err == nil && len(lq.fields) > 0 {
			var kept []byte
			if kept, err = project(body[start:], lq.fields); err == nil {
				body = append(body[:start], kept...)
			}
		}
		if err != nil {
			restError(w, http.StatusInternalServerError, "internal_server_error", "There has been a critical error on this website.")
			return
		}
	}
	body = append(body, ']')
	if f != nil {
		total = max(total+f.TotalSkew, 0)
		if f.Total > 0 {
			total = f.Total
		}
	}
	pages := (total + lq.perPage - 1) / lq.perPage
	if f != nil {
		pages = max(pages+f.TotalPagesSkew, 0)
		if f.TotalPages > 0 {
			pages = f.TotalPages
		}
	}
	h := w.Header()
	if f == nil || !f.NoTotals {
		h.Set("X-WP-Total", strconv.Itoa(total))
		h.Set("X-WP-TotalPages", strconv.Itoa(pages))
	}
	h.Set("Allow", "GET, POST")
	if l := linkHeader(base, r.URL.Query(), lq.page, pages); l != "" {
		h.Set("Link", l)
	}
	// The page takes Latency in all, building it included, as a shop's
	// page build time would.
	if wait := s.opts.Latency - time.Since(start); wait > 0 {
		select {
		case <-time.After(wait):
		case <-r.Context().Done():
			return
		}
	}
	s.mu.Lock()
	s.stats.ListRequests++
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, body)
}

// linkHeader is WordPress's prev/next Link header.
func linkHeader(base string, q url.Values, page, pages int) string {
	link := func(p int) string {
		v := url.Values{}
		for k, vs := range q {
			if k != "page" {
				v[k] = vs
			}
		}
		v.Set("page", strconv.Itoa(p))
		return "<" + base + "/wp-json/wc/v3/orders?" + v.Encode() + ">"
	}
	var parts []string
	if page > 1 {
		parts = append(parts, link(min(page-1, max(pages, 1)))+`; rel="prev"`)
	}
	if pages > page {
		parts = append(parts, link(page+1)+`; rel="next"`)
	}
	return strings.Join(parts, ", ")
}

// window returns the ids on the requested page with their creation times,
// statuses and padding, and how many orders match in all. Order ids grow with
// creation time, so the date filters make an id range; with status=any
// only the few remembered exceptions need looking at.
func (s *Shop) window(lq listQuery) (ids []int64, total int, created, modified []time.Time, statuses []string, pads []int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	maxID := s.maxID()
	lo := int64(sort.Search(int(maxID), func(i int) bool {
		return lq.after.IsZero() || s.created(int64(i+1)).After(lq.after)
	})) + 1
	hi := int64(sort.Search(int(maxID), func(i int) bool {
		return !lq.before.IsZero() && !s.created(int64(i+1)).Before(lq.before)
	}))
	if hi < lo {
		return nil, 0, nil, nil, nil, nil
	}
	var nth func(k int) int64
	inModified := func(id int64) bool {
		m := s.modifiedAt(id)
		return (lq.modAfter.IsZero() || m.After(lq.modAfter)) && (lq.modBefore.IsZero() || m.Before(lq.modBefore))
	}
	if !lq.modAfter.IsZero() || !lq.modBefore.IsZero() {
		var match []int64
		for id := lo; id <= hi; id++ {
			st := s.status(id)
			if st == "" || !inModified(id) || (len(lq.include) > 0 && !slices.Contains(lq.include, id)) {
				continue
			}
			if slices.Contains(lq.statuses, st) || (st != "trash" && slices.Contains(lq.statuses, "any")) {
				match = append(match, id)
			}
		}
		total = len(match)
		nth = func(k int) int64 { return match[k] }
	} else if len(lq.include) > 0 {
		// rest_ensure_response keeps the include filter with every other.
		var match []int64
		for _, id := range lq.include {
			st := s.status(id)
			if id < lo || id > hi || st == "" || slices.Contains(match, id) {
				continue
			}
			if slices.Contains(lq.statuses, st) || (st != "trash" && slices.Contains(lq.statuses, "any")) {
				match = append(match, id)
			}
		}
		slices.Sort(match)
		total = len(match)
		nth = func(k int) int64 { return match[k] }
	} else if len(lq.statuses) == 1 && lq.statuses[0] == "any" {
		var excluded []int64
		for id := range s.gone {
			if id >= lo && id <= hi {
				excluded = append(excluded, id)
			}
		}
		for id, st := range s.statuses {
			if st == "trash" && id >= lo && id <= hi && !s.gone[id] {
				excluded = append(excluded, id)
			}
		}
		slices.Sort(excluded)
		total = int(hi-lo+1) - len(excluded)
		nth = func(k int) int64 {
			id := lo + int64(k)
			for _, e := range excluded {
				if e > id {
					break
				}
				id++
			}
			return id
		}
	} else {
		var match []int64
		for id := lo; id <= hi; id++ {
			st := s.status(id)
			if st != "" && slices.Contains(lq.statuses, st) || (st != "" && st != "trash" && slices.Contains(lq.statuses, "any")) {
				match = append(match, id)
			}
		}
		total = len(match)
		nth = func(k int) int64 { return match[k] }
	}
	for k := (lq.page - 1) * lq.perPage; k < min(lq.page*lq.perPage, total); k++ {
		idx := k
		if lq.desc {
			idx = total - 1 - k
		}
		id := nth(idx)
		ids = append(ids, id)
		created = append(created, s.created(id))
		modified = append(modified, s.modifiedAt(id))
		statuses = append(statuses, s.status(id))
		pads = append(pads, s.padding[id])
	}
	return ids, total, created, modified, statuses, pads
}

// project keeps only the named top-level fields of an order, in the order
// the order has them, as WordPress's _fields does (rest_filter_response_fields).
func project(order []byte, fields []string) ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	err := jsonscan.Members(order, func(key, value []byte) error {
		if !slices.Contains(fields, string(key)) {
			return nil
		}
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Quote(string(key)))
		b.WriteByte(':')
		b.Write(value)
		return nil
	})
	b.WriteByte('}')
	return b.Bytes(), err
}
