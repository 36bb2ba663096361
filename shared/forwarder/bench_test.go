package forwarder

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/logistos-sync/logistos-sync/shared/logistos"
	"github.com/logistos-sync/logistos-sync/shared/queue"
)

// BenchmarkBatchOfTen measures what a full SQS batch costs against a
// Logistos that answers each POST after benchLatency, through the real
// client and HTTP transport, reported as batch time / latency: the goal is
// about one latency (≤ 1.3), not one per order.
func BenchmarkBatchOfTen(b *testing.B) {
	const benchLatency = 400 * time.Millisecond
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(benchLatency)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer slow.Close()
	for _, origin := range []string{queue.OriginBackfill, queue.OriginWebhook} {
		b.Run(origin, func(b *testing.B) {
			hs := newHarness()
			hs.h.Logistos = &logistos.Client{HTTP: logistos.NewHTTPClient(), OrdersURL: slow.URL}
			recs := make([]events.SQSMessage, 10)
			for i := range recs {
				recs[i] = record(i+1, origin, "")
			}
			ev := events.SQSEvent{Records: recs}
			start := time.Now()
			for b.Loop() {
				if resp, _ := hs.h.Handle(context.Background(), ev); len(resp.BatchItemFailures) != 0 {
					b.Fatalf("failures %v", resp.BatchItemFailures)
				}
			}
			b.ReportMetric(float64(time.Since(start))/float64(b.N)/float64(benchLatency), "latencies/batch")
		})
	}
}
