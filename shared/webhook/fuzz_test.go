package webhook

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/logistos-sync/logistos-sync/shared/metrics"
	"github.com/logistos-sync/logistos-sync/shared/secret"
	"github.com/logistos-sync/logistos-sync/shared/woohook"
)

// FuzzHandle feeds the handler arbitrary requests. Whatever arrives, it
// answers with one of its statuses without a Lambda error, and it enqueues
// only bodies signed with the secret.
func FuzzHandle(f *testing.F) {
	for _, name := range []string{"order-created-313.body", "order-created-314.body", "ping.body", "error-401-unknown-key.json"} {
		body, err := os.ReadFile(filepath.Join(fixtures, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(body, woohook.Sign(body, []byte(realSecret)), "order.created", false)
		f.Add(body, "", "", true)
	}
	f.Add([]byte(`{"id":1}`), "bad", "order.created", false)
	f.Add([]byte("webhook_id=7"), "", "", false)
	f.Add([]byte(`{"id":18446744073709551616}`), "", "order.created", false)

	f.Fuzz(func(t *testing.T, body []byte, sig, topic string, asBase64 bool) {
		q := &fakeQueue{}
		h := &Handler{
			Secrets: secret.Literal(realSecret), Queue: q, Topics: map[string]bool{"order.created": true},
			StoreURL: "https://shop.example", Log: quiet, Metrics: metrics.New(discard{}, "fuzz"),
		}
		req := events.APIGatewayV2HTTPRequest{Headers: map[string]string{woohook.HeaderSignature: sig, woohook.HeaderTopic: topic}, Body: string(body)}
		if asBase64 {
			req.Body, req.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
		}
		resp, err := h.Handle(context.Background(), req)
		if err != nil {
			t.Fatalf("Lambda error: %v", err)
		}
		switch resp.StatusCode {
		case 200, 400, 401, 413:
		default:
			t.Fatalf("status %d", resp.StatusCode)
		}
		if len(q.msgs) > 0 {
			var v woohook.Verifier
			if !v.Verify(body, sig, [][]byte{[]byte(realSecret)}) {
				t.Fatal("enqueued a body whose signature does not verify")
			}
			if q.msgs[0].Body != string(body) {
				t.Fatal("enqueued body differs from the request body")
			}
		}
	})
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
