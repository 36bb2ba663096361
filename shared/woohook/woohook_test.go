package woohook

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/logistos-sync/logistos-sync/shared/woohook/woohooktest"
)

const fixtures = "../../testdata/woocommerce/real-wc-8.9.1"

// realSecret is the webhook secret of the shop the fixtures were captured from.
const realSecret = "realwoo-webhook-secret"

func loadDelivery(t testing.TB, name string) woohooktest.Capture {
	t.Helper()
	c, err := woohooktest.ReadCapture(fixtures, name)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestVerifyRealDeliveries(t *testing.T) {
	for _, name := range []string{"order-created-313", "order-created-314"} {
		t.Run(name, func(t *testing.T) {
			d := loadDelivery(t, name)
			sig := d.Headers[HeaderSignature]
			if got := Sign(d.Body, []byte(realSecret)); got != sig {
				t.Fatalf("Sign = %s, captured signature %s", got, sig)
			}
			var v Verifier
			if !v.Verify(d.Body, sig, [][]byte{[]byte(realSecret)}) {
				t.Fatal("captured delivery does not verify")
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	d := loadDelivery(t, "order-created-313")
	d314 := loadDelivery(t, "order-created-314")
	sig := d.Headers[HeaderSignature]
	secret := [][]byte{[]byte(realSecret)}
	// WooCommerce signs its own encoding: `\/` and `\uXXXX` must stay as sent.
	unescaped := bytes.ReplaceAll(d.Body, []byte(`\/`), []byte(`/`))
	if bytes.Equal(unescaped, d.Body) {
		t.Fatal("fixture has no escaped slash; the test would prove nothing")
	}
	flipped := bytes.Clone(d.Body)
	flipped[len(flipped)/2] ^= 1
	cases := []struct {
		name    string
		body    []byte
		sig     string
		secrets [][]byte
	}{
		{"wrong secret", d.Body, sig, [][]byte{[]byte("not-the-secret")}},
		{"no secrets", d.Body, sig, nil},
		{"empty secret", d.Body, sig, [][]byte{{}}},
		{"missing signature", d.Body, "", secret},
		{"slashes unescaped", unescaped, sig, secret},
		{"one bit flipped", flipped, sig, secret},
		{"trailing newline", append(bytes.Clone(d.Body), '\n'), sig, secret},
		{"hex instead of base64", d.Body, strings.Repeat("ab", 32), secret},
		{"truncated signature", d.Body, sig[:40], secret},
		{"not base64", d.Body, strings.Repeat("!", 44), secret},
		// 314's captured signature holds both '+' and '/'.
		{"url-safe alphabet", d314.Body, strings.NewReplacer("+", "-", "/", "_").Replace(d314.Headers[HeaderSignature]), secret},
	}
	var v Verifier
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if v.Verify(c.body, c.sig, c.secrets) {
				t.Fatal("verified, want rejected")
			}
		})
	}
}

func TestVerifyUnicodeEscapes(t *testing.T) {
	// An order with Hindi text as WooCommerce encodes it, and the same order
	// as a JSON re-encoder would write it: only the original bytes verify.
	body, err := os.ReadFile("../../testdata/woocommerce/order-wc9-inr-cod.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(body, []byte(`\u092a`)) {
		t.Fatal("fixture lost its \\u escapes")
	}
	secret := []byte("s3cret")
	sig := Sign(body, secret)
	reencoded := bytes.ReplaceAll(body, []byte(`\u092a`), []byte("प"))
	var v Verifier
	if !v.Verify(body, sig, [][]byte{secret}) {
		t.Fatal("original bytes do not verify")
	}
	if v.Verify(reencoded, sig, [][]byte{secret}) {
		t.Fatal("re-encoded body verified")
	}
}

func TestVerifyRotation(t *testing.T) {
	body := []byte(`{"id":1}`)
	old, cur, other := []byte("old-secret"), []byte("new-secret"), []byte("someone-else")
	var v Verifier
	both := [][]byte{cur, old}
	if !v.Verify(body, Sign(body, cur), both) {
		t.Error("current secret rejected")
	}
	if !v.Verify(body, Sign(body, old), both) {
		t.Error("previous secret rejected during rotation")
	}
	if v.Verify(body, Sign(body, other), both) {
		t.Error("unknown secret accepted")
	}
	if v.Verify(body, Sign(body, old), [][]byte{cur}) {
		t.Error("previous secret accepted after rotation ended")
	}
}

func TestVerifierPoolsStayBounded(t *testing.T) {
	var v Verifier
	body := []byte(`{"id":1}`)
	for i := range 3 * maxPools {
		s := []byte{byte(i), 'k'}
		if !v.Verify(body, Sign(body, s), [][]byte{s}) {
			t.Fatalf("secret %d rejected", i)
		}
	}
	if n := len(v.pools); n > maxPools {
		t.Fatalf("%d pools kept, limit %d", n, maxPools)
	}
}

func TestIsPing(t *testing.T) {
	ping, err := os.ReadFile(filepath.Join(fixtures, "ping.body"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name       string
		sig, topic string
		body       string
		want       bool
	}{
		{"captured ping", "", "", string(ping), true},
		{"trailing newline", "", "", "webhook_id=12\n", true},
		{"large id", "", "", "webhook_id=1234567890", true},
		{"signed", "c2ln", "", "webhook_id=1", false},
		{"with topic", "", "order.created", "webhook_id=1", false},
		{"no id", "", "", "webhook_id=", false},
		{"not a number", "", "", "webhook_id=1;drop", false},
		{"extra field", "", "", "webhook_id=1&x=2", false},
		{"order body", "", "", `{"id":1}`, false},
		{"empty", "", "", "", false},
		{"absurd id", "", "", "webhook_id=" + strings.Repeat("9", 40), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := IsPing(c.sig, c.topic, []byte(c.body)); got != c.want {
				t.Fatalf("IsPing = %v, want %v", got, c.want)
			}
		})
	}
}

func TestPeek(t *testing.T) {
	real := loadDelivery(t, "order-created-313")
	restError, err := os.ReadFile(filepath.Join(fixtures, "error-401-unknown-key.json"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		body string
		kind Kind
		id   int64
	}{
		{"real delivery", string(real.Body), KindOrder, 313},
		{"deleted order", `{"id":4821}`, KindOrder, 4821},
		{"whitespace", " {\n \"id\" : 77 ,\"x\":1}", KindOrder, 77},
		{"REST error", string(restError), KindError, 0},
		{"cannot view", `{"code":"woocommerce_rest_cannot_view","message":"Sorry","data":{"status":403}}`, KindError, 0},
		{"string id", `{"id":"12"}`, KindUnknown, 0},
		{"negative id", `{"id":-1}`, KindUnknown, 0},
		{"id not first", `{"status":"processing","id":5}`, KindUnknown, 0},
		{"truncated", `{"id":12`, KindUnknown, 0},
		{"array", `[{"id":1}]`, KindUnknown, 0},
		{"empty", ``, KindUnknown, 0},
		{"form", `webhook_id=1`, KindUnknown, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			kind, id := Peek([]byte(c.body))
			if kind != c.kind || id != c.id {
				t.Fatalf("Peek = %v, %d; want %v, %d", kind, id, c.kind, c.id)
			}
		})
	}
}

// OrderID reads the first key when it is "id", and decodes any other
// object, so a proxy or plugin that reorders keys does not lose the id.
func TestOrderID(t *testing.T) {
	for body, want := range map[string]int64{
		`{"id":313,"status":"processing"}`:  313,
		`{"status":"processing","id":5}`:    5,
		`{"meta_data":[{"id":9}],"id":"x"}`: -1,
		`{"status":"processing"}`:           -1,
		`{"id":null}`:                       -1,
		`[{"id":1}]`:                        -1,
		``:                                  -1,
	} {
		id, err := OrderID([]byte(body))
		if want < 0 && err == nil || want >= 0 && (err != nil || id != want) {
			t.Errorf("OrderID(%s) = %d, %v; want %d (-1: an error)", body, id, err, want)
		}
	}
}
