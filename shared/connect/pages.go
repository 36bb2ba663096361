package connect

import (
	"html"
	"strings"

	"github.com/aws/aws-lambda-go/events"
)

// A Page is one of the small HTML pages the owner's browser sees. They are
// plain HTML with inline style: no script, no external resource, readable
// on a phone, and nothing of the request is echoed into them, except the
// address the owner typed into a hub's form, HTML-escaped (formPage).
type Page string

// The pages, by name (the names also name the screenshots of make pages).
const (
	PageConnected   Page = "connected"
	PageDenied      Page = "denied"
	PageUnknown     Page = "unknown"
	PageUnavailable Page = "unavailable"
	// PageShopForm is a hub's question: which shop? (as first shown).
	PageShopForm Page = "shop-form"
	// PageOtherShop is a single-shop stack's answer to another shop.
	PageOtherShop Page = "other-shop"
)

// Pages lists every page, for tests and make pages.
var Pages = []Page{PageConnected, PageDenied, PageUnknown, PageUnavailable, PageShopForm, PageOtherShop}

const pageHead = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>`

const pageStyle = `</title>
<style>
body{font:17px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;padding:24px 20px;color:#1d2327;background:#f6f7f7}
main{max-width:36em;margin:0 auto;background:#fff;border-radius:8px;padding:20px 22px;box-shadow:0 1px 3px rgba(0,0,0,.12)}
h1{font-size:1.5em;line-height:1.25;margin:0 0 .6em}
.ok{color:#00762e}.no{color:#b32d2e}
code{font-size:.9em;background:#f0f0f1;padding:1px 4px;border-radius:3px;overflow-wrap:anywhere}
a{color:#2271b1}
li{margin:.4em 0}
</style>
</head>
<body>
<main>
`

const pageFoot = `</main>
</body>
</html>
`

var pageBodies = map[Page]struct{ title, body string }{
	PageConnected: {"Shop connected", `<h1 class="ok">Your shop is connected</h1>
<p>WooCommerce created a REST API key for Logistos Sync and sent it to your AWS account. Nobody needs to copy it, and there is nothing more for you to do.</p>
<p>What happens next, by itself:</p>
<ol>
<li>Within a minute, the key is checked against your shop, kept in your AWS account and handed to Logistos.</li>
<li>A webhook is registered in your shop: from then on, each new order reaches Logistos within seconds of being placed.</li>
<li>Your existing orders are sent to Logistos over the next minutes (a shop with many orders takes longer).</li>
</ol>
<p>You can close this page.</p>
<p>If your orders have not appeared in Logistos within an hour, ask Logistos whether they received your shop's key, or ask whoever runs this AWS account: its alarms and activation log say what went wrong.</p>
<p>To disconnect, revoke the key <em>Logistos Sync - API</em> in WooCommerce &rarr; Settings &rarr; Advanced &rarr; REST API.</p>
`},
	PageDenied: {"Not connected", `<h1 class="no">Your shop was not connected</h1>
<p>You chose <strong>Deny</strong>, so WooCommerce created no key and nothing was stored or sent.</p>
<p>To connect, open the connect link again (stack output <code>ConnectUrl</code>) and choose <strong>Approve</strong>: <a href="/woocommerce/connect">connect again</a>.</p>
`},
	PageUnknown: {"Not connected", `<h1 class="no">Nothing to show</h1>
<p>This page is where WooCommerce sends you after you approve or deny the connection, and this visit did not come from there.</p>
<p>To connect your shop, open the connect link (stack output <code>ConnectUrl</code>): <a href="/woocommerce/connect">connect</a>.</p>
`},
	PageOtherShop: {"Not this shop", `<h1 class="no">This link connects another shop</h1>
<p>This connect link belongs to one shop only, and the address in it is not that shop's, so nothing was started and nothing was stored.</p>
<p>To connect your own shop, ask whoever runs your Logistos Sync deployment for its connect link (stack output <code>ConnectUrl</code>), or open this one without an address: <a href="/woocommerce/connect">connect</a>.</p>
`},
	PageUnavailable: {"Try again", `<h1 class="no">Please try again</h1>
<p>The connection could not be started just now, and nothing was changed. Wait a minute and <a href="/woocommerce/connect">try again</a>.</p>
`},
}

// HTML returns the page's complete document.
func (p Page) HTML() string {
	if p == PageShopForm {
		return shopForm("", "")
	}
	b := pageBodies[p]
	return document(b.title, b.body)
}

func document(title, body string) string {
	return pageHead + title + pageStyle + body + pageFoot
}

// The content security policies forbid scripts and every outside resource:
// the pages need none. Only the form may be sent, and only here.
const (
	cspPage = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	cspForm = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

// page answers with p.
func page(status int, p Page) events.APIGatewayV2HTTPResponse {
	csp := cspPage
	if p == PageShopForm {
		csp = cspForm
	}
	return htmlAnswer(status, p.HTML(), csp)
}

func htmlAnswer(status int, body, csp string) events.APIGatewayV2HTTPResponse {
	return events.APIGatewayV2HTTPResponse{
		StatusCode: status,
		Headers: map[string]string{
			"content-type":            "text/html; charset=utf-8",
			"cache-control":           "no-store",
			"content-security-policy": csp,
			"referrer-policy":         "no-referrer",
			"x-content-type-options":  "nosniff",
		},
		Body: body,
	}
}

// formPage answers a hub's form: empty at first, or again with the
// address the owner typed and what is wrong with it, both escaped. An
// address too long to be a shop's is not echoed.
func formPage(status int, typed, problem string) events.APIGatewayV2HTTPResponse {
	if len(typed) > MaxStoreURL {
		typed = ""
	}
	return htmlAnswer(status, shopForm(typed, problem), cspForm)
}

// shopForm is the hub's form: one labelled field, sent by GET to the
// connect route itself, so the answer is the redirect to the shop.
func shopForm(typed, problem string) string {
	var b strings.Builder
	b.WriteString(`<h1>Connect your shop</h1>
<p>Type the address of your WooCommerce shop. Your browser then goes to your shop, where WooCommerce asks you to log in as an administrator and approve <strong>Logistos Sync</strong>. Nothing is sent to your shop before you approve.</p>
`)
	invalid := ""
	if problem != "" {
		invalid = ` aria-invalid="true" aria-describedby="problem"`
		b.WriteString(`<p class="no" id="problem" role="alert">`)
		if typed != "" {
			b.WriteString(`<code>` + html.EscapeString(typed) + `</code> cannot be connected: `)
		}
		b.WriteString(html.EscapeString(problem) + `.</p>
`)
	}
	b.WriteString(`<form method="get" action="` + PathConnect + `">
<p><label for="store_url">Your shop's address, as it appears in your browser (for example <code>https://shop.example</code>)</label></p>
<p><input id="store_url" name="` + ParamStoreURL + `" type="url" required autocomplete="url" spellcheck="false" value="` + html.EscapeString(typed) + `"` + invalid + `></p>
<p><button type="submit">Connect my shop</button></p>
</form>
`)
	return document("Connect your shop", b.String())
}
