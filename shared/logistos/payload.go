// Package logistos turns WooCommerce orders into the Logistos orders
// payload and sends it, and hands Logistos a shop's REST API credentials.
package logistos

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
)

// Source is the payload's "source" for every order from this project.
const Source = "woocommerce"

// Payload is the body POSTed to the Logistos orders URL.
type Payload struct {
	Source   string  `json:"source"`
	StoreURL string  `json:"store_url"`
	Event    string  `json:"event"`
	Orders   []Order `json:"orders"`
}

// Order is the allow-listed part of a WooCommerce REST v3 order. Everything
// not named here is dropped: meta_data (where payment plugins keep card and
// token data), customer_ip_address, customer_user_agent, transaction_id,
// order_key, cart_hash, payment_url, _links and whatever plugins add.
type Order struct {
	ID                 Value `json:"id,omitzero"`
	ParentID           Value `json:"parent_id,omitzero"`
	Number             Value `json:"number,omitzero"`
	Status             Value `json:"status,omitzero"`
	Currency           Value `json:"currency,omitzero"`
	PricesIncludeTax   Value `json:"prices_include_tax,omitzero"`
	DateCreated        Value `json:"date_created,omitzero"`
	DateCreatedGMT     Value `json:"date_created_gmt,omitzero"`
	DateModifiedGMT    Value `json:"date_modified_gmt,omitzero"`
	DatePaidGMT        Value `json:"date_paid_gmt,omitzero"`
	CustomerID         Value `json:"customer_id,omitzero"`
	CustomerNote       Value `json:"customer_note,omitzero"`
	PaymentMethod      Value `json:"payment_method,omitzero"`
	PaymentMethodTitle Value `json:"payment_method_title,omitzero"`
	DiscountTotal      Value `json:"discount_total,omitzero"`
	DiscountTax        Value `json:"discount_tax,omitzero"`
	ShippingTotal      Value `json:"shipping_total,omitzero"`
	ShippingTax        Value `json:"shipping_tax,omitzero"`
	CartTax            Value `json:"cart_tax,omitzero"`
	Total              Value `json:"total,omitzero"`
	TotalTax           Value `json:"total_tax,omitzero"`

	Billing       *Billing       `json:"billing,omitzero"`
	Shipping      *Shipping      `json:"shipping,omitzero"`
	LineItems     []LineItem     `json:"line_items,omitzero"`
	FeeLines      []FeeLine      `json:"fee_lines,omitzero"`
	ShippingLines []ShippingLine `json:"shipping_lines,omitzero"`
	TaxLines      []TaxLine      `json:"tax_lines,omitzero"`
	CouponLines   []CouponLine   `json:"coupon_lines,omitzero"`

	// Dropped counts values dropped because an object or array stood where
	// the allow-list keeps a scalar.
	Dropped int `json:"-"`
}

// Billing is the order's billing address and contact.
type Billing struct {
	FirstName Value `json:"first_name,omitzero"`
	LastName  Value `json:"last_name,omitzero"`
	Company   Value `json:"company,omitzero"`
	Address1  Value `json:"address_1,omitzero"`
	Address2  Value `json:"address_2,omitzero"`
	City      Value `json:"city,omitzero"`
	State     Value `json:"state,omitzero"`
	Postcode  Value `json:"postcode,omitzero"`
	Country   Value `json:"country,omitzero"`
	Email     Value `json:"email,omitzero"`
	Phone     Value `json:"phone,omitzero"`
}

// Shipping is the order's delivery address.
type Shipping struct {
	FirstName Value `json:"first_name,omitzero"`
	LastName  Value `json:"last_name,omitzero"`
	Company   Value `json:"company,omitzero"`
	Address1  Value `json:"address_1,omitzero"`
	Address2  Value `json:"address_2,omitzero"`
	City      Value `json:"city,omitzero"`
	State     Value `json:"state,omitzero"`
	Postcode  Value `json:"postcode,omitzero"`
	Country   Value `json:"country,omitzero"`
	Phone     Value `json:"phone,omitzero"`
}

// LineItem is one product line.
type LineItem struct {
	ID          Value `json:"id,omitzero"`
	Name        Value `json:"name,omitzero"`
	ProductID   Value `json:"product_id,omitzero"`
	VariationID Value `json:"variation_id,omitzero"`
	SKU         Value `json:"sku,omitzero"`
	Quantity    Value `json:"quantity,omitzero"`
	Price       Value `json:"price,omitzero"`
	Subtotal    Value `json:"subtotal,omitzero"`
	SubtotalTax Value `json:"subtotal_tax,omitzero"`
	Total       Value `json:"total,omitzero"`
	TotalTax    Value `json:"total_tax,omitzero"`
}

// FeeLine is a fee such as COD handling.
type FeeLine struct {
	ID       Value `json:"id,omitzero"`
	Name     Value `json:"name,omitzero"`
	Total    Value `json:"total,omitzero"`
	TotalTax Value `json:"total_tax,omitzero"`
}

// ShippingLine is a shipping method charged on the order.
type ShippingLine struct {
	ID          Value `json:"id,omitzero"`
	MethodID    Value `json:"method_id,omitzero"`
	MethodTitle Value `json:"method_title,omitzero"`
	Total       Value `json:"total,omitzero"`
	TotalTax    Value `json:"total_tax,omitzero"`
}

// TaxLine is a tax rate applied to the order.
type TaxLine struct {
	ID               Value `json:"id,omitzero"`
	RateID           Value `json:"rate_id,omitzero"`
	RateCode         Value `json:"rate_code,omitzero"`
	Label            Value `json:"label,omitzero"`
	Compound         Value `json:"compound,omitzero"`
	TaxTotal         Value `json:"tax_total,omitzero"`
	ShippingTaxTotal Value `json:"shipping_tax_total,omitzero"`
}

// CouponLine is a coupon used on the order.
type CouponLine struct {
	ID          Value `json:"id,omitzero"`
	Code        Value `json:"code,omitzero"`
	Discount    Value `json:"discount,omitzero"`
	DiscountTax Value `json:"discount_tax,omitzero"`
}

// ErrNotAnOrder means a message body cannot be read as an order: not JSON,
// not an object, or without a numeric id. Retrying never helps.
var ErrNotAnOrder = errors.New("not a WooCommerce order")

// ParseOrder reads the allow-listed fields of one WooCommerce order JSON.
// Unknown fields are ignored; each allowed scalar keeps its bytes. Keys match
// exactly; an allowed key given twice makes the body ErrNotAnOrder (which of
// the two is the order's?); objects and arrays where a scalar belongs are
// dropped and counted in Dropped.
func ParseOrder(body []byte) (Order, error) {
	// The walk checks structure only; the rest of JSON's grammar first.
	if !json.Valid(body) {
		return Order{}, fmt.Errorf("%w: not valid JSON", ErrNotAnOrder)
	}
	var o Order
	d := decoder{}
	if err := d.object(body, reflect.ValueOf(&o).Elem()); err != nil {
		return Order{}, fmt.Errorf("%w: %v", ErrNotAnOrder, err)
	}
	if !isInteger(o.ID) {
		return Order{}, fmt.Errorf("%w: no numeric \"id\"", ErrNotAnOrder)
	}
	o.Dropped = d.dropped
	return o, nil
}

func isInteger(v Value) bool {
	if len(v) == 0 {
		return false
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// IdempotencyKey identifies one version of one order: hex SHA-256 of
// "store_url|id|date_modified_gmt". WooCommerce's delivery id cannot serve,
// since it hashes the webhook id and the current second.
func (o *Order) IdempotencyKey(storeURL string) string {
	sum := sha256.Sum256([]byte(storeURL + "|" + o.ID.Text() + "|" + o.DateModifiedGMT.Text()))
	return hex.EncodeToString(sum[:])
}

// IdempotencyKey identifies a payload by its one order. A payload carries
// one order: a key over several would change whenever SQS grouped the
// order with others on a retry, and Logistos could not drop the duplicate.
func (p *Payload) IdempotencyKey() string {
	return p.Orders[0].IdempotencyKey(p.StoreURL)
}

// Marshal encodes the payload without HTML escaping, so '&' in a product
// name arrives as '&'.
func (p *Payload) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(p); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// StoreURL normalises a shop URL as it appears in payloads and keys:
// without the trailing slash WooCommerce puts on X-WC-Webhook-Source.
func StoreURL(u string) string { return strings.TrimRight(u, "/") }
