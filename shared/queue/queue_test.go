package queue

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/logistos-sync/logistos-sync/internal/sqstest"
)

func order(n int) string {
	var b strings.Builder
	b.WriteString(`{"id":1,"line_items":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":%d,"name":"Cotton Kurta - Indigo, L","price":593.22,"total":"1186.44"}`, i)
	}
	b.WriteString(`]}`)
	return b.String()
}

func TestEncode(t *testing.T) {
	at := time.Date(2026, 11, 28, 2, 6, 16, 0, time.UTC)
	small := &Message{Body: order(2), Topic: "order.created", Origin: OriginWebhook, ReceivedAt: at}
	body, enc, err := Encode(small, MaxMessageBytes)
	if err != nil || enc != "" || body != small.Body {
		t.Fatalf("small order: enc %q err %v, body changed %v", enc, err, body != small.Body)
	}

	big := &Message{Body: order(20000), Origin: OriginWebhook, ReceivedAt: at} // ~1.6 MB
	if len(big.Body) <= MaxMessageBytes {
		t.Fatal("test order not over the limit")
	}
	body, enc, err = Encode(big, MaxMessageBytes)
	if err != nil || enc != EncodingGzip {
		t.Fatalf("big order: enc %q, err %v", enc, err)
	}
	if len(body) >= MaxMessageBytes {
		t.Fatalf("encoded body %d bytes, over the limit", len(body))
	}
	back, err := Decode(body, enc)
	if err != nil || string(back) != big.Body {
		t.Fatalf("round trip: err %v, equal %v", err, string(back) == big.Body)
	}

	random := make([]byte, 900<<10)
	rand.Read(random)
	noise := &Message{Body: base64.StdEncoding.EncodeToString(random)} // 1.2 MB that gzip cannot shrink enough
	if _, _, err := Encode(noise, MaxMessageBytes); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("incompressible order: err %v, want ErrTooLarge", err)
	}
}

func TestEncodeCountsAttributes(t *testing.T) {
	// A body that fits alone but not with its attributes must be compressed.
	m := &Message{Topic: "order.created", Source: "https://shop.example/", Origin: OriginWebhook, ReceivedAt: time.Now()}
	limit := 8192
	m.Body = strings.Repeat("a", limit-FailureRoom-m.attributeSize("")+1)
	if _, enc, err := Encode(m, limit); err != nil || enc != EncodingGzip {
		t.Fatalf("enc %q, err %v; want gzip", enc, err)
	}
	m.Body = m.Body[1:]
	if _, enc, err := Encode(m, limit); err != nil || enc != "" {
		t.Fatalf("at the limit: enc %q, err %v; want plain", enc, err)
	}
}

func TestEncodeCharactersSQSRefuses(t *testing.T) {
	for _, body := range []string{"{\"id\":1,\"note\":\"a\x00b\"}", "{\"id\":1,\"n\":\"\xff\"}", "{\"id\":1,\"n\":\"\uFFFE\"}", "{\"n\":\"\x1b[31m\"}"} {
		out, enc, err := Encode(&Message{Body: body}, MaxMessageBytes)
		if err != nil || enc != EncodingGzip {
			t.Errorf("%q: enc %q err %v, want gzip", body, enc, err)
			continue
		}
		if back, _ := Decode(out, enc); string(back) != body {
			t.Errorf("%q did not round-trip", body)
		}
	}
	for _, body := range []string{"{\"name\":\"प्रिया\\t✨\"}\n", `{"a":"\u092a"}`} {
		if _, enc, _ := Encode(&Message{Body: body}, MaxMessageBytes); enc != "" {
			t.Errorf("%q compressed, SQS accepts it as is", body)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	cases := map[string][2]string{
		"unknown encoding": {"{}", "br"},
		"not base64":       {"%%%", EncodingGzip},
		"not gzip":         {base64.StdEncoding.EncodeToString([]byte("plain")), EncodingGzip},
	}
	for name, c := range cases {
		if _, err := Decode(c[0], c[1]); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
	// A gzip bomb stops at the limit instead of filling memory.
	bomb := &Message{Body: strings.Repeat("0", maxDecodedBytes+10)}
	body, enc, err := Encode(bomb, MaxMessageBytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Decode(body, enc); err == nil {
		t.Error("inflating past the limit succeeded")
	}
}

func TestSendAttributes(t *testing.T) {
	f := &sqstest.Sender{}
	s := &Sender{Client: f, QueueURL: "q"}
	m := &Message{Body: `{"id":1}`, Topic: "order.created", Source: "https://shop.example/", Origin: OriginWebhook,
		WebhookID: "3", DeliveryID: "abc", ReceivedAt: time.Date(2026, 11, 28, 2, 6, 16, 0, time.FixedZone("IST", 19800))}
	if _, err := s.Send(context.Background(), *m); err != nil {
		t.Fatal(err)
	}
	in := f.Sent()[0]
	want := map[string]string{
		AttrTopic: "order.created", AttrSource: "https://shop.example/", AttrOrigin: OriginWebhook,
		AttrWebhookID: "3", AttrDeliveryID: "abc", AttrReceivedAt: "2026-11-27T20:36:16Z",
	}
	if len(in.MessageAttributes) != len(want) {
		t.Fatalf("attributes %v", in.MessageAttributes)
	}
	for k, v := range want {
		a := in.MessageAttributes[k]
		if aws.ToString(a.DataType) != "String" || aws.ToString(a.StringValue) != v {
			t.Errorf("%s = %s/%s, want String/%s", k, aws.ToString(a.DataType), aws.ToString(a.StringValue), v)
		}
	}
	if *in.MessageBody != m.Body || *in.QueueUrl != "q" {
		t.Error("body or queue url changed")
	}
}

func TestSendBatchSplits(t *testing.T) {
	ms := make([]*Message, 25)
	for i := range ms {
		ms[i] = &Message{Body: fmt.Sprintf(`{"id":%d}`, i), Origin: OriginBackfill}
	}
	// Three bodies of 400 KB: two fit in one call's 1 MiB, the third cannot.
	for i := 0; i < 3; i++ {
		ms[10+i].Body = fmt.Sprintf(`{"id":%d,"x":"%s"}`, 10+i, strings.Repeat("y", 400<<10))
	}
	f := &sqstest.Sender{}
	s := &Sender{Client: f, QueueURL: "q"}
	if err := s.SendBatch(context.Background(), ms); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, b := range f.Batches() {
		size := 0
		if len(b) > MaxBatchEntries {
			t.Errorf("batch of %d entries", len(b))
		}
		for _, e := range b {
			size += len(*e.MessageBody)
			seen[*e.MessageBody] = true
		}
		if size > MaxBatchBytes {
			t.Errorf("batch of %d bytes", size)
		}
	}
	if len(seen) != len(ms) {
		t.Fatalf("%d distinct messages sent, want %d", len(seen), len(ms))
	}
	if len(f.Batches()) < 4 {
		t.Fatalf("%d calls; 25 messages with three 400 KB ones need at least 4", len(f.Batches()))
	}
}

// One call of several failing fails SendBatch, so the caller records
// nothing and sends the page again.
func TestSendBatchOneCallFails(t *testing.T) {
	var calls atomic.Int32
	f := &failingCall{Sender: &sqstest.Sender{}, fail: 3, calls: &calls}
	ms := make([]*Message, 5*MaxBatchEntries)
	for i := range ms {
		ms[i] = &Message{Body: fmt.Sprintf(`{"id":%d}`, i+1)}
	}
	err := (&Sender{Client: f, QueueURL: "q"}).SendBatch(context.Background(), ms)
	if err == nil || !strings.Contains(err.Error(), "throttled") {
		t.Fatalf("err %v, want the failed call's error", err)
	}
}

// failingCall is a sqstest.Sender whose call number fail (1-based) returns an error.
type failingCall struct {
	*sqstest.Sender
	fail  int32
	calls *atomic.Int32
}

func (f *failingCall) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	if f.calls.Add(1) == f.fail {
		return nil, errors.New("throttled")
	}
	return f.Sender.SendMessageBatch(ctx, in, opts...)
}

// recordedDelays is a Sender.RetryDelay that waits not at all and keeps
// the production delay each retry would have waited.
type recordedDelays []time.Duration

func (r *recordedDelays) delay(retry int) time.Duration {
	*r = append(*r, batchRetryDelay(retry))
	return 0
}

func TestSendBatchRetriesFailedEntries(t *testing.T) {
	ms := []*Message{{Body: `{"id":1}`}, {Body: `{"id":2}`}, {Body: `{"id":3}`}}
	f := &sqstest.Sender{Fail: func(call int, body string) bool { return call == 0 && body == `{"id":2}` }}
	var once recordedDelays
	if err := (&Sender{Client: f, QueueURL: "q", RetryDelay: once.delay}).SendBatch(context.Background(), ms); err != nil {
		t.Fatal(err)
	}
	if len(f.Batches()) != 2 || len(f.Batches()[1]) != 1 || *f.Batches()[1][0].MessageBody != `{"id":2}` {
		t.Fatalf("want a second call with only the failed entry, got %d calls", len(f.Batches()))
	}
	if !slices.Equal(once, []time.Duration{100 * time.Millisecond}) {
		t.Errorf("one retry waited %v, want [100ms]", once)
	}

	always := &sqstest.Sender{Fail: func(int, string) bool { return true }}
	var all recordedDelays
	err := (&Sender{Client: always, QueueURL: "q", RetryDelay: all.delay}).SendBatch(context.Background(), ms[:1])
	if err == nil || len(always.Batches()) != batchRetries+1 {
		t.Fatalf("err %v after %d calls; want an error after %d", err, len(always.Batches()), batchRetries+1)
	}
	// Exponential: SQS throttling eases within the 1.5 s the four retries wait.
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond}
	if !slices.Equal(all, want) {
		t.Errorf("retries waited %v, want %v", all, want)
	}

	down := &sqstest.Sender{Err: errors.New("connection refused")}
	if err := (&Sender{Client: down, QueueURL: "q"}).SendBatch(context.Background(), ms); err == nil {
		t.Fatal("no error when SQS is down")
	}
}

// A context ended during the wait before a retry ends SendBatch with the
// context's error, without the retry.
func TestSendBatchStopsWaitingWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := &sqstest.Sender{Fail: func(int, string) bool { return true }}
	s := &Sender{Client: f, QueueURL: "q", RetryDelay: func(int) time.Duration {
		cancel() // the function times out while SendBatch waits
		return time.Hour
	}}
	err := s.SendBatch(ctx, []*Message{{Body: `{"id":1}`}})
	if !errors.Is(err, context.Canceled) || len(f.Batches()) != 1 {
		t.Fatalf("err %v after %d calls; want the context's error after 1", err, len(f.Batches()))
	}
}

func TestSendBatchGzipsLargeEntries(t *testing.T) {
	f := &sqstest.Sender{}
	m := &Message{Body: order(20000), Origin: OriginBackfill}
	if err := (&Sender{Client: f, QueueURL: "q"}).SendBatch(context.Background(), []*Message{m}); err != nil {
		t.Fatal(err)
	}
	e := f.Batches()[0][0]
	if aws.ToString(e.MessageAttributes[AttrContentEncoding].StringValue) != EncodingGzip {
		t.Fatal("large entry not marked gzip")
	}
	back, err := Decode(*e.MessageBody, EncodingGzip)
	if err != nil || !bytes.Equal(back, []byte(m.Body)) {
		t.Fatal("large entry does not round-trip")
	}
}

// An entry too large even compressed does not stop the others: they are
// sent, and the error names it.
func TestSendBatchSkipsTooLarge(t *testing.T) {
	random := make([]byte, 900<<10)
	rand.Read(random)
	noise := base64.StdEncoding.EncodeToString(random)
	at := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	var ms []*Message
	for i := range 12 {
		body := fmt.Sprintf(`{"id":%d}`, i)
		if i == 3 || i == 11 {
			body = noise
		}
		ms = append(ms, &Message{Body: body, Source: "https://s", Origin: OriginBackfill, ReceivedAt: at})
	}
	f := &sqstest.Sender{}
	err := (&Sender{Client: f, QueueURL: "q"}).SendBatch(context.Background(), ms)
	var tl *TooLargeError
	if !errors.As(err, &tl) || !errors.Is(err, ErrTooLarge) || !slices.Equal(tl.Indexes, []int{3, 11}) || !strings.Contains(err.Error(), "message 11") {
		t.Fatalf("err %v", err)
	}
	sent := 0
	for _, b := range f.Batches() {
		for _, e := range b {
			if *e.MessageBody == noise {
				t.Error("the oversized message was sent")
			}
			sent++
		}
	}
	if sent != 10 {
		t.Errorf("%d messages sent, want 10", sent)
	}
	want := map[string]string{AttrSource: "https://s", AttrOrigin: OriginBackfill, AttrReceivedAt: "2026-11-28T10:00:00Z"}
	if got := ms[3].StringAttributes(); !maps.Equal(got, want) {
		t.Errorf("StringAttributes %v, want %v", got, want)
	}
	// Another failure wins: the caller must not take the batch as sent.
	down := &sqstest.Sender{Err: errors.New("connection refused")}
	if err := (&Sender{Client: down, QueueURL: "q"}).SendBatch(context.Background(), ms); err == nil || errors.As(err, &tl) {
		t.Errorf("SQS down: %v", err)
	}
}

// TestDeadLetterFitsAMessageAtTheLimit: the largest body Encode lets through,
// with every attribute an order message can have, still fits in the queue's
// limit once it gains the longest failure attributes.
func TestDeadLetterFitsAMessageAtTheLimit(t *testing.T) {
	m := &Message{Topic: "order.created", Source: "https://shop.example/", Origin: OriginWebhook,
		WebhookID: "12", DeliveryID: "0123456789abcdef0123456789abcdef", ReceivedAt: time.Now()}
	m.Body = strings.Repeat("a", MaxMessageBytes-FailureRoom-m.attributeSize(""))
	body, enc, err := Encode(m, MaxMessageBytes)
	if err != nil || enc != "" {
		t.Fatalf("enc %q, err %v; want the body as is, at the limit", enc, err)
	}
	long := strings.Repeat("é", MaxFailureValueBytes) // truncated, in bytes
	in := DeadLetter("dlq", body, map[string]string{AttrTopic: m.Topic, AttrSource: m.Source, AttrOrigin: m.Origin,
		AttrWebhookID: m.WebhookID, AttrDeliveryID: m.DeliveryID, AttrReceivedAt: m.receivedAt()},
		Failure{Class: FailurePermanent + strings.Repeat("x", 2*MaxFailureValueBytes), Reason: long, Detail: long})
	size := len(*in.MessageBody)
	for k, v := range in.MessageAttributes {
		size += len(k) + len(*v.DataType) + len(*v.StringValue)
	}
	if size > MaxMessageBytes {
		t.Fatalf("dead-lettered message is %d bytes, over the %d limit", size, MaxMessageBytes)
	}
	if n := len(*in.MessageAttributes[AttrFailureReason].StringValue); n > MaxFailureValueBytes {
		t.Errorf("failure-reason is %d bytes, want at most %d", n, MaxFailureValueBytes)
	}
}
