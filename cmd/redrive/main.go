// Command redrive moves the orders in a stack's dead-letter queue back to
// its orders queue, once the cause of their failure is fixed, and reports
// progress until done. It is `make redrive`, for production queues and the
// local stack of `make run` alike:
//
//	make redrive ARGS="-queue-url <OrdersQueueUrl> -dlq-url <DeadLetterQueueUrl>"
//	QUEUE_URL=... DLQ_URL=... go run ./cmd/redrive -rate 20
//
// Before acting it prints the account, region and queues it acts on, read
// from the queue URLs. Against AWS, credentials come from the SDK's standard
// configuration (AWS_PROFILE, AWS_ACCESS_KEY_ID, ...). Queue URLs on a
// loopback host (the local stack's) are reached at that host with fake
// credentials, unless AWS_ENDPOINT_URL says otherwise.
//
// The work is shared/queue's Redriver; this command only parses flags and
// prints. It links the AWS SDK and nothing of the emulator or the tests.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/logistos-sync/logistos-sync/shared/config"
	"github.com/logistos-sync/logistos-sync/shared/queue"
)

const usageHead = `Usage: redrive -queue-url URL -dlq-url URL [-rate N] [-poll DURATION]
       make redrive ARGS="-queue-url URL -dlq-url URL"

Moves every message in a stack's dead-letter queue back to its orders queue.
The queue URLs are the stack outputs OrdersQueueUrl and DeadLetterQueueUrl:

  aws cloudformation describe-stacks --stack-name <name> --query "Stacks[0].Outputs"

` + "`make run`" + ` prints the local stack's. Before acting, redrive prints the account,
region and queues it acts on.

Flags:
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "redrive:", err)
		os.Exit(1)
	}
}

// run is the command: args without the program name; out receives usage,
// the target and progress. Errors are for the caller to print.
func run(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	fs := flag.NewFlagSet("redrive", flag.ContinueOnError)
	// Parse errors are returned, not printed with the usage: they go to
	// stderr like every other error, and -h alone prints the usage.
	fs.SetOutput(io.Discard)
	queueURL := fs.String("queue-url", getenv(config.QueueURL), "orders queue URL (stack output OrdersQueueUrl); default $"+config.QueueURL)
	dlqURL := fs.String("dlq-url", getenv(config.DLQURL), "dead-letter queue URL (stack output DeadLetterQueueUrl); default $"+config.DLQURL)
	rate := fs.Int("rate", 0, "messages per second, at most "+strconv.Itoa(queue.MaxRedriveRate)+" (0: SQS chooses); spares Logistos after an outage")
	poll := fs.Duration("poll", queue.DefaultPollInterval, "how often progress is reported")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(out, usageHead)
			fs.SetOutput(out)
			fs.PrintDefaults()
			return nil
		}
		return fmt.Errorf("%w (redrive -h lists the flags)", err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q (redrive -h lists the flags)", fs.Args())
	}

	t, err := plan(*queueURL, *dlqURL, getenv)
	if err != nil {
		return err
	}
	cfg, err := t.awsConfig(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "redrive:", t.describe())

	r := &queue.Redriver{
		Client: sqs.NewFromConfig(cfg), QueueURL: t.Queue.URL, DLQURL: t.DLQ.URL, Rate: int32(*rate), PollInterval: *poll,
		Progress: func(p queue.RedriveProgress) {
			fmt.Fprintf(out, "redrive: %d/%d moved (%s, %s)\n", p.Moved, p.Total, p.Status, p.Method)
		},
	}
	p, err := r.Redrive(ctx)
	if err != nil {
		return fmt.Errorf("%w\n%s", err, t.hint())
	}
	if p.Total == 0 {
		fmt.Fprintln(out, "redrive: the dead-letter queue is empty; nothing to do")
		return nil
	}
	fmt.Fprintf(out, "redrive: done: %d of %d messages back on the orders queue\n", p.Moved, p.Total)
	return nil
}

// permissions are what a redrive calls: the move task's own actions, and
// the ones SQS requires of its caller (and the copy fallback uses).
const permissions = "sqs:GetQueueAttributes on both queues, sqs:StartMessageMoveTask, sqs:ListMessageMoveTasks, " +
	"sqs:ReceiveMessage and sqs:DeleteMessage on the dead-letter queue, and sqs:SendMessage on the orders queue"

// hint says what to check when the queues could not be worked on.
func (t target) hint() string {
	if t.Local {
		return "(is `make run` running? It serves the local stack at " + t.Endpoint + ")"
	}
	return "(check that your AWS credentials are for account " + t.Account + " and allow " + permissions + ")"
}
