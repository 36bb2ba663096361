package forwarder

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/logistos-sync/logistos-sync/shared/logistos"
	"github.com/logistos-sync/logistos-sync/shared/metrics"
	"github.com/logistos-sync/logistos-sync/shared/queue"
)

// The simulated orders queue: as template.yaml configures it.
const (
	simOrders          = 2000
	simEvery           = 500 * time.Millisecond // one webhook order every simEvery
	simPoll            = time.Second            // the event source hands over what is visible, once a second
	simBatch           = 10                     // records per invocation at most
	simMaxReceiveCount = 5
	simVisibility      = 370 * time.Second
)

// BenchmarkRetrySchedule drives the real Handler, with the real Logistos
// client, against an httptest Logistos, through an in-memory orders queue
// on a virtual clock (visibility deadlines, receive counts, batches of up
// to 10, ChangeMessageVisibility, and after maxReceiveCount receives the
// message leaves the queue as "waiting"). simOrders webhook orders arrive
// one every simEvery. The POSTs are real and take milliseconds; the
// virtual clock stands still meanwhile, so their latency is left out of the
// delays, which are whole seconds of backoff and polling.
//
// logistos=blip5pct answers 503 to 5% of POSTs at random and reports the
// delay from webhook to the POST Logistos accepted (p50_s, p99_s, max_s);
// logistos=down answers 503 to all of them and reports the POSTs they cost
// (posts_per_order in all, posts_1h_per_order in the first hour) and how
// long an order stays on the queue before it leaves as waiting
// (to_waiting_min, median). schedule=new is Retry; schedule=old the slow
// schedule alone, the forwarder's only one before. One container (one
// Handler) takes every batch. Run it with -benchtime 1x: one iteration is
// one simulation, about a second.
func BenchmarkRetrySchedule(b *testing.B) {
	for _, lg := range []struct {
		name     string
		failRate float64
	}{{"logistos=blip5pct", 0.05}, {"logistos=down", 1}} {
		for _, sched := range []string{"new", "old"} {
			b.Run(lg.name+"/schedule="+sched, func(b *testing.B) {
				var sum simResult
				runs := 0
				for b.Loop() {
					r := simulate(b, lg.failRate, sched == "old")
					sum.p50, sum.p99, sum.max = sum.p50+r.p50, sum.p99+r.p99, sum.max+r.max
					sum.posts, sum.posts1h, sum.waiting, sum.toWaiting = sum.posts+r.posts, sum.posts1h+r.posts1h, sum.waiting+r.waiting, sum.toWaiting+r.toWaiting
					runs++
				}
				n := float64(runs)
				if lg.failRate < 1 {
					b.ReportMetric(sum.p50.Seconds()/n, "p50_s")
					b.ReportMetric(sum.p99.Seconds()/n, "p99_s")
					b.ReportMetric(sum.max.Seconds()/n, "max_s")
				} else {
					b.ReportMetric(sum.toWaiting.Minutes()/n, "to_waiting_min")
				}
				b.ReportMetric(float64(sum.posts)/n/simOrders, "posts_per_order")
				b.ReportMetric(float64(sum.posts1h)/n/simOrders, "posts_1h_per_order")
				b.ReportMetric(float64(sum.waiting)/n, "waiting")
			})
		}
	}
}

// simResult is one simulation's figures.
type simResult struct {
	p50, p99, max time.Duration // webhook to accepted POST, of the orders delivered
	posts         int           // POSTs in all
	posts1h       int           // POSTs in the first virtual hour
	waiting       int           // orders that left the queue after maxReceiveCount receives
	toWaiting     time.Duration // median time from webhook to leaving as waiting
}

// simMsg is one message on the simulated queue.
type simMsg struct {
	id       int
	queued   time.Time
	visible  time.Time // invisible until then
	receives int
	gone     bool // deleted (forwarded) or moved on (waiting)
}

// simSQS is the simulated orders queue, on a virtual clock: it is the
// forwarder's SQSAPI, so ChangeMessageVisibility moves a message's
// deadline from the virtual now.
type simSQS struct {
	mu      sync.Mutex
	now     time.Time
	byRH    map[string]*simMsg // by receipt handle
	dlqSent int
}

func (q *simSQS) SendMessage(context.Context, *sqs.SendMessageInput, ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.dlqSent++
	return &sqs.SendMessageOutput{}, nil
}

func (q *simSQS) ChangeMessageVisibility(_ context.Context, in *sqs.ChangeMessageVisibilityInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.byRH[*in.ReceiptHandle].visible = q.now.Add(time.Duration(in.VisibilityTimeout) * time.Second)
	return &sqs.ChangeMessageVisibilityOutput{}, nil
}

func (q *simSQS) GetQueueUrl(context.Context, *sqs.GetQueueUrlInput, ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error) {
	return &sqs.GetQueueUrlOutput{QueueUrl: aws.String("https://sqs.ap-south-1.amazonaws.com/123456789012/orders")}, nil
}

// simulate runs simOrders orders through a Handler against a Logistos that
// answers 503 to failRate of the POSTs, with the slow schedule alone when
// old is set.
func simulate(b *testing.B, failRate float64, old bool) simResult {
	var posts atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		posts.Add(1)
		if rand.Float64() < failRate {
			http.Error(w, `{"error":"maintenance"}`, http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()

	start := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	q := &simSQS{now: start, byRH: map[string]*simMsg{}}
	h := &Handler{
		Logistos: &logistos.Client{HTTP: logistos.NewHTTPClient(), OrdersURL: srv.URL},
		Queues:   &Queues{Client: q, DLQURL: "dlq"},
		StoreURL: "https://shop.example.in",
		Topics:   map[string]bool{"order.created": true},
		Log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		Metrics:  metrics.New(io.Discard, "bench"),
	}
	if old {
		var r Retry // its jitter; the record is never read
		h.Backoff = func(n int) time.Duration { return r.jitter(slowDelay(n)) }
	}

	var (
		res       simResult
		msgs      []*simMsg
		delays    []time.Duration
		toWaiting []time.Duration
		left      = simOrders
	)
	for now := start; left > 0; {
		q.mu.Lock()
		q.now = now
		q.mu.Unlock()
		for len(msgs) < simOrders && !start.Add(time.Duration(len(msgs))*simEvery).After(now) {
			at := start.Add(time.Duration(len(msgs)) * simEvery)
			m := &simMsg{id: len(msgs) + 1, queued: at, visible: at}
			msgs = append(msgs, m)
			q.byRH[fmt.Sprintf("rh-%d", m.id)] = m
		}
		// What the event source receives now, oldest first; a message due a
		// sixth receive moves on instead, as SQS's redrive does.
		var due []*simMsg
		for _, m := range msgs {
			switch {
			case m.gone || m.visible.After(now):
			case m.receives == simMaxReceiveCount:
				m.gone = true
				res.waiting++
				toWaiting = append(toWaiting, now.Sub(m.queued))
				left--
			default:
				due = append(due, m)
			}
		}
		slices.SortStableFunc(due, func(a, b *simMsg) int { return a.visible.Compare(b.visible) })
		for batch := range slices.Chunk(due, simBatch) {
			var ev events.SQSEvent
			for _, m := range batch {
				m.receives++
				m.visible = now.Add(simVisibility)
				rec := record(m.id, queue.OriginWebhook, "")
				rec.Attributes["ApproximateReceiveCount"] = strconv.Itoa(m.receives)
				ev.Records = append(ev.Records, rec)
				res.posts++
				if now.Sub(start) < time.Hour {
					res.posts1h++
				}
			}
			resp, _ := h.Handle(context.Background(), ev)
			retried := map[string]bool{}
			for _, f := range resp.BatchItemFailures {
				retried[f.ItemIdentifier] = true
			}
			for i, m := range batch {
				if !retried[ev.Records[i].MessageId] {
					m.gone = true
					delays = append(delays, now.Sub(m.queued))
					left--
				}
			}
		}
		// On to the next poll at which something is due.
		next := time.Time{}
		if len(msgs) < simOrders {
			next = start.Add(time.Duration(len(msgs)) * simEvery)
		}
		for _, m := range msgs {
			if !m.gone && (next.IsZero() || m.visible.Before(next)) {
				next = m.visible
			}
		}
		if next.IsZero() {
			break
		}
		now = now.Add(max(simPoll, next.Sub(now)+simPoll-1).Truncate(simPoll))
	}
	if got := int(posts.Load()); got != res.posts || q.dlqSent != 0 {
		b.Fatalf("Logistos saw %d POSTs, the queue delivered %d; %d dead-lettered", got, res.posts, q.dlqSent)
	}
	res.p50, res.p99, res.max = percentile(delays, 50), percentile(delays, 99), percentile(delays, 100)
	res.toWaiting = percentile(toWaiting, 50)
	return res
}

// percentile returns the pth percentile of ds (nearest rank); 0 for none.
func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(ds))
	i := (len(s)*p + 99) / 100
	return s[max(i, 1)-1]
}
