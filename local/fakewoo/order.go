package fakewoo

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"
)

// The order JSON, field for field in the order WooCommerce 8.9/9.x writes
// it (see testdata/woocommerce/real-wc-8.9.1/orders-page.json).
type order struct {
	ID                 int64      `json:"id"`
	ParentID           int64      `json:"parent_id"`
	Status             string     `json:"status"`
	Currency           string     `json:"currency"`
	Version            string     `json:"version"`
	PricesIncludeTax   bool       `json:"prices_include_tax"`
	DateCreated        string     `json:"date_created"`
	DateModified       string     `json:"date_modified"`
	DiscountTotal      string     `json:"discount_total"`
	DiscountTax        string     `json:"discount_tax"`
	ShippingTotal      string     `json:"shipping_total"`
	ShippingTax        string     `json:"shipping_tax"`
	CartTax            string     `json:"cart_tax"`
	Total              string     `json:"total"`
	TotalTax           string     `json:"total_tax"`
	CustomerID         int64      `json:"customer_id"`
	OrderKey           string     `json:"order_key"`
	Billing            address    `json:"billing"`
	Shipping           address    `json:"shipping"`
	PaymentMethod      string     `json:"payment_method"`
	PaymentMethodTitle string     `json:"payment_method_title"`
	TransactionID      string     `json:"transaction_id"`
	CustomerIP         string     `json:"customer_ip_address"`
	CustomerUA         string     `json:"customer_user_agent"`
	CreatedVia         string     `json:"created_via"`
	CustomerNote       string     `json:"customer_note"`
	DateCompleted      *string    `json:"date_completed"`
	DatePaid           *string    `json:"date_paid"`
	CartHash           string     `json:"cart_hash"`
	Number             string     `json:"number"`
	MetaData           []meta     `json:"meta_data"`
	LineItems          []lineItem `json:"line_items"`
	TaxLines           []any      `json:"tax_lines"`
	ShippingLines      []any      `json:"shipping_lines"`
	FeeLines           []any      `json:"fee_lines"`
	CouponLines        []any      `json:"coupon_lines"`
	Refunds            []any      `json:"refunds"`
	PaymentURL         string     `json:"payment_url"`
	IsEditable         bool       `json:"is_editable"`
	NeedsPayment       bool       `json:"needs_payment"`
	NeedsProcessing    bool       `json:"needs_processing"`
	DateCreatedGMT     string     `json:"date_created_gmt"`
	DateModifiedGMT    string     `json:"date_modified_gmt"`
	DateCompletedGMT   *string    `json:"date_completed_gmt"`
	DatePaidGMT        *string    `json:"date_paid_gmt"`
	CurrencySymbol     string     `json:"currency_symbol"`
	Links              links      `json:"_links"`
}

type address struct {
	FirstName string  `json:"first_name"`
	LastName  string  `json:"last_name"`
	Company   string  `json:"company"`
	Address1  string  `json:"address_1"`
	Address2  string  `json:"address_2"`
	City      string  `json:"city"`
	State     string  `json:"state"`
	Postcode  string  `json:"postcode"`
	Country   string  `json:"country"`
	Email     *string `json:"email"`
	Phone     string  `json:"phone"`
}

type meta struct {
	ID    int64  `json:"id"`
	Key   string `json:"key"`
	Value string `json:"value"`
}

type lineItem struct {
	ID          int64   `json:"id"`
	Name        string  `json:"name"`
	ProductID   int64   `json:"product_id"`
	VariationID int64   `json:"variation_id"`
	Quantity    int     `json:"quantity"`
	TaxClass    string  `json:"tax_class"`
	Subtotal    string  `json:"subtotal"`
	SubtotalTax string  `json:"subtotal_tax"`
	Total       string  `json:"total"`
	TotalTax    string  `json:"total_tax"`
	Taxes       []any   `json:"taxes"`
	MetaData    []any   `json:"meta_data"`
	SKU         *string `json:"sku"`
	Price       float64 `json:"price"`
	Image       image   `json:"image"`
	ParentName  *string `json:"parent_name"`
}

type image struct {
	ID  string `json:"id"`
	Src string `json:"src"`
}

type links struct {
	Self       []href `json:"self"`
	Collection []href `json:"collection"`
}

type href struct {
	Href string `json:"href"`
}

// Invented people and goods; some non-ASCII, so the \uXXXX escaping shows.
var (
	firstNames = []string{"Bulk", "Zoë", "José", "प्रिया", "Łukasz", "Chloé", "Ananya", "Søren"}
	cities     = []string{"Localhost", "Pune", "Zürich", "São Paulo", "Kraków", "Bengaluru"}
	products   = []struct {
		name, sku string
		cents     int64
	}{
		{"Localhost T-Shirt", "RW-TEE", 2500},
		{"127 Sticker Pack", "RW-STK", 399},
		{"Café Mug – large", "RW-MUG", 1250},
		{"Cotton Kurta / Indigo", "KURTA-IND", 59322},
	}
	statusCycle = []string{"processing", "completed", "completed", "on-hold", "pending", "completed", "cancelled", "refunded", "failed", "processing"}
	methods     = []string{"cod", "bacs", "stripe", "razorpay"}
)

// noise is n characters of base64 text from a generator seeded with id:
// the same for the same order, and gzip cannot shrink it below 3/4.
func noise(id int64, n int) string {
	var seed [32]byte
	binary.LittleEndian.PutUint64(seed[:], uint64(id))
	raw := make([]byte, base64.StdEncoding.DecodedLen(n)+3)
	_, _ = rand.NewChaCha8(seed).Read(raw)
	return base64.StdEncoding.EncodeToString(raw)[:n]
}

func money(cents int64) string { return fmt.Sprintf("%d.%02d", cents/100, cents%100) }

// build makes order id's JSON; everything but the status, dates and
// padding (pad bytes of incompressible text, see Shop.Pad) follows from the
// id, so no order is ever stored.
func build(base string, id int64, status string, created, modified time.Time, pad int) ([]byte, error) {
	return appendOrder(nil, new(bytes.Buffer), base, id, status, created, modified, pad)
}

// appendOrder appends build's JSON to dst, encoding through scratch.
func appendOrder(dst []byte, scratch *bytes.Buffer, base string, id int64, status string, created, modified time.Time, pad int) ([]byte, error) {
	date := created.UTC().Format(dateLayout)
	mod := date
	if modified.After(created) {
		mod = modified.UTC().Format(dateLayout)
	}
	n := int(id)
	o := order{
		ID: id, Status: status, Currency: "USD", Version: "8.9.1",
		DateCreated: date, DateModified: mod,
		DiscountTotal: "0.00", DiscountTax: "0.00", ShippingTotal: "0.00", ShippingTax: "0.00", CartTax: "0.00", TotalTax: "0.00",
		OrderKey: "wc_order_" + strconv.FormatInt(id*7919, 36),
		Billing: address{FirstName: firstNames[n%len(firstNames)], LastName: "Customer " + strconv.Itoa(n),
			City: cities[n%len(cities)], Postcode: "94016", Country: "US", Phone: ""},
		PaymentMethod: methods[n%len(methods)], CreatedVia: "checkout", CustomerIP: "203.0.113." + strconv.Itoa(n%250),
		CustomerUA: "Mozilla/5.0 (X11; Linux x86_64)", TransactionID: "",
		Number:   strconv.FormatInt(id, 10),
		MetaData: []meta{{ID: id * 10, Key: "_fake_card_last4", Value: fmt.Sprintf("%04d", n%10000)}},
		TaxLines: []any{}, ShippingLines: []any{}, FeeLines: []any{}, CouponLines: []any{}, Refunds: []any{},
		PaymentURL:      fmt.Sprintf("%s/checkout/order-pay/%d/?pay_for_order=true&key=wc_order_%s", base, id, strconv.FormatInt(id*7919, 36)),
		NeedsProcessing: true, DateCreatedGMT: date, DateModifiedGMT: mod,
		CurrencySymbol: "$",
		Links: links{Self: []href{{fmt.Sprintf("%s/wp-json/wc/v3/orders/%d", base, id)}},
			Collection: []href{{base + "/wp-json/wc/v3/orders"}}},
	}
	if n%5 != 0 {
		email := fmt.Sprintf("customer%d@example.com", n)
		o.Billing.Email = &email
	} else {
		o.Billing.Email = nil // WooCommerce writes null for guest orders without one
	}
	if n%3 == 0 {
		o.CustomerNote = "Leave it at the gate / back door"
	}
	if status == "completed" || status == "processing" {
		o.DatePaid, o.DatePaidGMT = &date, &date
	}
	if status == "completed" {
		o.DateCompleted, o.DateCompletedGMT = &date, &date
	}
	var total int64
	for k := 0; k < 1+n%3; k++ {
		p := products[(n+k)%len(products)]
		qty := 1 + (n+k)%4
		line := p.cents * int64(qty)
		total += line
		sku := p.sku
		o.LineItems = append(o.LineItems, lineItem{
			ID: id*10 + int64(k), Name: p.name, ProductID: int64(11 + (n+k)%len(products)), Quantity: qty,
			Subtotal: money(line), SubtotalTax: "0.00", Total: money(line), TotalTax: "0.00",
			Taxes: []any{}, MetaData: []any{}, SKU: &sku, Price: float64(p.cents) / 100, Image: image{},
		})
	}
	o.Total = money(total)
	if pad > 0 {
		o.MetaData = append(o.MetaData, meta{ID: id*10 + 1, Key: "_fake_attachment", Value: noise(id, pad)})
	}
	return appendWPEncoded(dst, scratch, o)
}
