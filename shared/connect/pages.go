package connect

import "github.com/aws/aws-lambda-go/events"

// A Page is one of the small HTML pages the owner's browser sees. They are
// plain HTML with inline style: no script, no external resource, readable
// on a phone, and nothing of the request is echoed into them.
type Page string

// The pages, by name (the names also name the screenshots of make pages).
const (
	PageConnected   Page = "connected"
	PageDenied      Page = "denied"
	PageUnknown     Page = "unknown"
	PageUnavailable Page = "unavailable"
)

// Pages lists every page, for tests and make pages.
var Pages = []Page{PageConnected, PageDenied, PageUnknown, PageUnavailable}

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
	PageUnavailable: {"Try again", `<h1 class="no">Please try again</h1>
<p>The connection could not be started just now, and nothing was changed. Wait a minute and <a href="/woocommerce/connect">try again</a>.</p>
`},
}

// HTML returns the page's complete document.
func (p Page) HTML() string {
	b := pageBodies[p]
	return pageHead + b.title + pageStyle + b.body + pageFoot
}

// page answers with p. The content security policy forbids scripts and
// every outside resource: the pages need none.
func page(status int, p Page) events.APIGatewayV2HTTPResponse {
	return events.APIGatewayV2HTTPResponse{
		StatusCode: status,
		Headers: map[string]string{
			"content-type":            "text/html; charset=utf-8",
			"cache-control":           "no-store",
			"content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
			"referrer-policy":         "no-referrer",
			"x-content-type-options":  "nosniff",
		},
		Body: p.HTML(),
	}
}
