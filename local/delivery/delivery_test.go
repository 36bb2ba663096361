package delivery

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/logistos-sync/logistos-sync/shared/woohook"
)

func TestCaptureVerifies(t *testing.T) {
	for _, name := range []string{"order-created-313", "order-created-314"} {
		c, err := ReadCapture(name)
		if err != nil {
			t.Fatal(err)
		}
		var v woohook.Verifier
		if !v.Verify(c.Body, c.Header.Get("X-WC-Webhook-Signature"), [][]byte{[]byte(RealSecret)}) {
			t.Errorf("%s: the captured signature does not verify", name)
		}
		if c.Header.Get("X-WC-Webhook-Topic") != "order.created" || c.Header.Get("Host") != "" || c.Header.Get("Content-Length") != "" {
			t.Errorf("%s: headers %v", name, c.Header)
		}
	}
}

func TestSignedDelivery(t *testing.T) {
	body, path, err := ReadFixture(SampleOrder)
	if err != nil {
		t.Fatal(err)
	}
	req, err := Delivery{WebhookID: 7}.NewRequest(context.Background(), "http://127.0.0.1:3000/woocommerce/webhook", body, "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	var v woohook.Verifier
	if !v.Verify(body, req.Header.Get("X-WC-Webhook-Signature"), [][]byte{[]byte("s3cret")}) {
		t.Error("signature does not verify over the exact body")
	}
	want := map[string]string{
		"X-WC-Webhook-Topic": "order.created", "X-WC-Webhook-Resource": "order", "X-WC-Webhook-Event": "created",
		"X-WC-Webhook-ID": "7", "X-WC-Webhook-Source": DefaultSource, "Content-Type": "application/json", "User-Agent": UserAgent,
	}
	for k, w := range want {
		if got := req.Header.Get(k); got != w {
			t.Errorf("%s = %q, want %q", k, got, w)
		}
	}
	if len(req.Header.Get("X-WC-Webhook-Delivery-ID")) != 32 {
		t.Errorf("delivery id %q", req.Header.Get("X-WC-Webhook-Delivery-ID"))
	}
	cmd := Delivery{}.Curl("http://127.0.0.1:3000/woocommerce/webhook", path, body, "s3cret")
	if !strings.Contains(cmd, "--data-binary @'"+path+"'") || !strings.Contains(cmd, woohook.Sign(body, []byte("s3cret"))) {
		t.Errorf("curl command:\n%s", cmd)
	}
}

func TestDeliveryIDRepeatsWithinASecond(t *testing.T) {
	now := time.Unix(1800000000, 0)
	if deliveryID(1, now) != deliveryID(1, now.Add(500*time.Millisecond)) || deliveryID(1, now) == deliveryID(1, now.Add(time.Second)) {
		t.Error("delivery id is not per webhook and second")
	}
}

func TestPing(t *testing.T) {
	req, err := NewPing(context.Background(), "http://127.0.0.1:3000/woocommerce/webhook", 1)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(req.Body)
	if !woohook.IsPing(req.Header.Get("X-WC-Webhook-Signature"), req.Header.Get("X-WC-Webhook-Topic"), body) {
		t.Errorf("not a ping: %q %v", body, req.Header)
	}
	c, err := ReadCapture("ping")
	if err != nil {
		t.Fatal(err)
	}
	if string(c.Body) != string(body) || c.Header.Get("Content-Type") != req.Header.Get("Content-Type") {
		t.Errorf("ping %q %q differs from the capture %q %q", body, req.Header.Get("Content-Type"), c.Body, c.Header.Get("Content-Type"))
	}
}
