// Command redrive moves the orders in the dead-letter queue back to the
// orders queue, once the cause of their failure is fixed, and reports
// progress until done.
//
// Against AWS, give the two queue URLs (the stack outputs OrdersQueueUrl and
// DeadLetterQueueUrl) as flags or as QUEUE_URL and DLQ_URL; credentials and
// region come from the usual AWS variables or profile. Without queue URLs it
// works on the local stack of `make run` (at AWS_ENDPOINT_URL, or
// 127.0.0.1:4566 when that is unset).
//
//	QUEUE_URL=https://sqs.../orders DLQ_URL=https://sqs.../dlq make redrive
//	cd local && go run ./cmd/redrive -rate 50
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/logistos-sync/logistos-sync/local/stack"
	"github.com/logistos-sync/logistos-sync/shared/config"
	"github.com/logistos-sync/logistos-sync/shared/queue"
)

// dialTimeout bounds the look for a local stack, so that a missing one is
// reported at once rather than after the SDK's retries.
const dialTimeout = 5 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "redrive:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	fs := flag.NewFlagSet("redrive", flag.ContinueOnError)
	fs.SetOutput(out)
	queueURL := fs.String("queue-url", getenv(config.QueueURL), "orders queue URL (stack output OrdersQueueUrl); env "+config.QueueURL)
	dlqURL := fs.String("dlq-url", getenv(config.DLQURL), "dead-letter queue URL (stack output DeadLetterQueueUrl); env "+config.DLQURL)
	rate := fs.Int("rate", 0, "messages per second, at most "+strconv.Itoa(queue.MaxRedriveRate)+" (0: SQS chooses); protects Logistos after an outage")
	poll := fs.Duration("poll", queue.DefaultPollInterval, "how often progress is reported")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}

	t, err := connect(ctx, *queueURL, *dlqURL, getenv)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "redrive: %s: %s -> %s\n", t.where, t.dlqURL, t.queueURL)
	r := &queue.Redriver{
		Client: t.client, QueueURL: t.queueURL, DLQURL: t.dlqURL, Rate: int32(*rate), PollInterval: *poll,
		Progress: func(p queue.RedriveProgress) {
			fmt.Fprintf(out, "redrive: %d/%d moved (%s, %s)\n", p.Moved, p.Total, p.Status, p.Method)
		},
	}
	p, err := r.Redrive(ctx)
	if err != nil {
		return err
	}
	if p.Total == 0 {
		fmt.Fprintln(out, "redrive: the dead-letter queue is empty; nothing to do")
		return nil
	}
	fmt.Fprintf(out, "redrive: done: %d of %d messages back on the orders queue\n", p.Moved, p.Total)
	return nil
}

// target is the pair of queues to work on and the client that reaches them.
type target struct {
	client           queue.RedriveAPI
	queueURL, dlqURL string
	where            string
}

// connect finds the queues: AWS (or the SDK's AWS_ENDPOINT_URL) when both
// URLs are given, else the local stack.
func connect(ctx context.Context, queueURL, dlqURL string, getenv func(string) string) (target, error) {
	switch {
	case queueURL != "" && dlqURL != "":
		cfg, err := config.AWS(ctx)
		if err != nil {
			return target{}, err
		}
		if cfg.Region == "" {
			cfg.Region = regionOf(queueURL)
		}
		return target{client: sqs.NewFromConfig(cfg), queueURL: queueURL, dlqURL: dlqURL, where: "region " + cfg.Region}, nil
	case queueURL != "" || dlqURL != "":
		return target{}, errors.New("give both -queue-url and -dlq-url (or QUEUE_URL and DLQ_URL), or neither for the local stack")
	}
	endpoint := getenv("AWS_ENDPOINT_URL")
	if endpoint == "" {
		endpoint = "http://127.0.0.1:" + strconv.Itoa(stack.DefaultPort)
	}
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	s, err := stack.Dial(dctx, endpoint)
	if err != nil {
		return target{}, fmt.Errorf("no queue URLs given, so the local stack was tried: %w\n"+
			"(for AWS pass -queue-url and -dlq-url: the stack outputs OrdersQueueUrl and DeadLetterQueueUrl)", err)
	}
	return target{client: s.SQS, queueURL: s.QueueURL, dlqURL: s.DLQURL, where: "local stack at " + endpoint}, nil
}

// regionOf reads the region from an SQS queue URL
// (https://sqs.<region>.amazonaws.com/<account>/<name>), for shells with no
// AWS_REGION or profile region set.
func regionOf(queueURL string) string {
	u, err := url.Parse(queueURL)
	if err != nil {
		return ""
	}
	parts := strings.Split(u.Hostname(), ".")
	if len(parts) >= 4 && parts[0] == "sqs" {
		return parts[1]
	}
	return ""
}
