package wooapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/logistos-sync/logistos-sync/shared/woohook"
)

// MaxPerPage is the largest page WooCommerce serves.
const MaxPerPage = 100

// StatusAny lists every order status except trash (WooCommerce's default).
const StatusAny = "any"

// DateLayout is how the REST API writes and reads dates: ISO 8601 without
// a zone (the _gmt fields and dates_are_gmt=true mean UTC).
const DateLayout = "2006-01-02T15:04:05"

// OrdersQuery selects a page of GET /orders.
type OrdersQuery struct {
	Page    int       // from 1
	PerPage int       // 1..MaxPerPage; MaxPerPage when zero
	Status  []string  // StatusAny when empty
	Before  time.Time // only orders created strictly before (GMT); none when zero
	After   time.Time // only orders created strictly after (GMT); none when zero
	// ModifiedAfter and ModifiedBefore select by date_modified (GMT;
	// WooCommerce 5.8 and later); none when zero.
	ModifiedAfter, ModifiedBefore time.Time
	// Include lists the only order ids wanted (at most MaxPerPage per page).
	Include []int64
	// Fields asks for only these top-level fields (_fields), e.g. StubFields:
	// a page of stubs is a few KB instead of a few hundred.
	Fields  []string
	OrderBy string // "id", "date", ...; WooCommerce's default (date) when empty
	Order   string // "asc" or "desc"
}

// StubFields are the fields of an OrderStub: enough to tell whether an
// order reached us, at a tiny fraction of a full order's size.
var StubFields = []string{"id", "date_created_gmt", "date_modified_gmt", "status"}

// OrderStub is an order listed with StubFields.
type OrderStub struct {
	ID       int64  `json:"id"`
	Created  string `json:"date_created_gmt"`
	Modified string `json:"date_modified_gmt"`
	Status   string `json:"status"`
}

// Stubs decodes the page's orders as stubs (a page listed with
// Fields: StubFields, or full orders).
func (p *OrdersPage) Stubs() ([]OrderStub, error) {
	out := make([]OrderStub, len(p.Orders))
	for i, o := range p.Orders {
		// A null date (an order never modified) decodes as "".
		if err := json.Unmarshal(o, &out[i]); err != nil {
			return nil, fmt.Errorf("order %d: not an order stub: %w", p.IDs[i], err)
		}
	}
	return out, nil
}

func (q OrdersQuery) values() url.Values {
	v := url.Values{}
	page, per := max(q.Page, 1), q.PerPage
	if per <= 0 || per > MaxPerPage {
		per = MaxPerPage
	}
	v.Set("page", strconv.Itoa(page))
	v.Set("per_page", strconv.Itoa(per))
	status := StatusAny
	if len(q.Status) > 0 {
		status = strings.Join(q.Status, ",")
	}
	v.Set("status", status)
	gmt := false
	for name, t := range map[string]time.Time{"before": q.Before, "after": q.After,
		"modified_after": q.ModifiedAfter, "modified_before": q.ModifiedBefore} {
		if !t.IsZero() {
			v.Set(name, t.UTC().Format(DateLayout))
			gmt = true
		}
	}
	if gmt {
		v.Set("dates_are_gmt", "true")
	}
	if len(q.Include) > 0 {
		ids := make([]string, len(q.Include))
		for i, id := range q.Include {
			ids[i] = strconv.FormatInt(id, 10)
		}
		v.Set("include", strings.Join(ids, ","))
	}
	if len(q.Fields) > 0 {
		v.Set("_fields", strings.Join(q.Fields, ","))
	}
	if q.OrderBy != "" {
		v.Set("orderby", q.OrderBy)
	}
	if q.Order != "" {
		v.Set("order", q.Order)
	}
	return v
}

// OrdersPage is one page of orders, each exactly as the shop encoded it.
type OrdersPage struct {
	// Orders are the page's elements, byte for byte as listed: slices of
	// the answer's body, which nothing modifies.
	Orders []json.RawMessage
	// IDs are the orders' ids, in the same order.
	IDs []int64
	// Total and TotalPages come from X-WP-Total and X-WP-TotalPages; -1
	// when the header is missing (some caching proxies strip them).
	Total, TotalPages int
	// Date is the shop's clock (the Date header); zero when absent.
	Date time.Time
}

// ListOrders fetches one page of orders.
func (c *Client) ListOrders(ctx context.Context, q OrdersQuery) (*OrdersPage, error) {
	op := fmt.Sprintf("list orders page %d", max(q.Page, 1))
	resp, err := c.do(ctx, op, http.MethodGet, "/orders", q.values(), nil)
	if err != nil {
		return nil, err
	}
	p := &OrdersPage{
		Total:      headerInt(resp.header, "X-WP-Total"),
		TotalPages: headerInt(resp.header, "X-WP-TotalPages"),
	}
	if d, err := http.ParseTime(resp.header.Get("Date")); err == nil {
		p.Date = d
	}
	if p.Orders, err = splitArray(resp.body); err != nil {
		return nil, &Error{Op: op, StatusCode: http.StatusOK, Err: fmt.Errorf("answer is not a JSON array of orders: %w", err), Hint: hintHTML}
	}
	p.IDs = make([]int64, len(p.Orders))
	for i, o := range p.Orders {
		id, err := woohook.OrderID(o)
		if err != nil {
			return nil, &Error{Op: op, StatusCode: http.StatusOK, Err: fmt.Errorf("element %d: %w", i, err)}
		}
		p.IDs[i] = id
	}
	return p, nil
}

// GetOrder fetches one order, exactly as the shop encodes it; an order
// deleted for good is ErrNoSuchOrder.
func (c *Client) GetOrder(ctx context.Context, id int64) (json.RawMessage, error) {
	resp, err := c.do(ctx, fmt.Sprintf("get order %d", id), http.MethodGet, "/orders/"+strconv.FormatInt(id, 10), nil, nil)
	if err != nil {
		return nil, err
	}
	return resp.body, nil
}

// CheckKey reports whether the key can read orders, with the cheapest call
// that proves it (GET /orders?per_page=1).
func (c *Client) CheckKey(ctx context.Context) error {
	_, err := c.do(ctx, "check the API key", http.MethodGet, "/orders", OrdersQuery{PerPage: 1}.values(), nil)
	return err
}

func headerInt(h http.Header, name string) int {
	n, err := strconv.Atoi(strings.TrimSpace(h.Get(name)))
	if err != nil || n < 0 {
		return -1
	}
	return n
}
