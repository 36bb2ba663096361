// Command shops is a hub operator's view of its shops: list them with their
// health, show one, disconnect one. It is `make shops`:
//
//	make shops ARGS="list"
//	make shops ARGS="show shop.example"
//	make shops ARGS="-yes disconnect shop.example"
//
// The tables, key and webhook URL are the hub stack's outputs
// (ShopsTableName, ShopsKeyArn, StateTableName, LedgerTableName,
// WebhookUrl), given as flags or the functions' own variables. Against
// AWS, credentials come from the SDK's standard configuration; against
// `make run`'s local stack, AWS_ENDPOINT_URL names it and fake credentials
// are used.
//
// The work is shared/fleet's; this command parses flags and prints. It
// links the AWS SDK and nothing of the emulator or the tests.
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
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/logistos-sync/logistos-sync/shared/config"
	"github.com/logistos-sync/logistos-sync/shared/fleet"
	"github.com/logistos-sync/logistos-sync/shared/hookreg"
	"github.com/logistos-sync/logistos-sync/shared/ledger"
	"github.com/logistos-sync/logistos-sync/shared/outbound"
	"github.com/logistos-sync/logistos-sync/shared/reconcile"
	"github.com/logistos-sync/logistos-sync/shared/shops"
	"github.com/logistos-sync/logistos-sync/shared/state"
	"github.com/logistos-sync/logistos-sync/shared/wooapi"
)

const usageHead = `Usage: shops [flags] list
       shops [flags] show <shop>
       shops [flags] -yes disconnect <shop>
       make shops ARGS="list"

A hub's shops: list them with their health, show one, or disconnect one
(its webhooks to this hub removed, its keys forgotten, no more sweeps; the
owner connects again to come back). <shop> is its address or its id.

The flags default to the functions' variables; their values are the hub
stack's outputs:

  aws cloudformation describe-stacks --stack-name <name> --query "Stacks[0].Outputs"

Against make run's local stack set AWS_ENDPOINT_URL=http://127.0.0.1:4566.

Flags:
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "shops:", err)
		os.Exit(1)
	}
}

// settings are the flags: where the hub's shops are.
type settings struct {
	shopsTable, shopsKey, stateTable, ledgerTable, webhookURL string
	waitingQueueURL                                           string
	allowPrivate, yes                                         bool
}

// run is the command: args without the program name; out receives usage
// and results. Errors are for the caller to print.
func run(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	fs := flag.NewFlagSet("shops", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var s settings
	fs.StringVar(&s.shopsTable, "shops-table", getenv(config.ShopsTable), "the shops table (output ShopsTableName); default $"+config.ShopsTable)
	fs.StringVar(&s.shopsKey, "shops-key", getenv(config.ShopsKeyID), "the shops' KMS key (output ShopsKeyArn); default $"+config.ShopsKeyID)
	fs.StringVar(&s.stateTable, "state-table", getenv(config.StateTable), "the state table (output StateTableName); default $"+config.StateTable)
	fs.StringVar(&s.ledgerTable, "ledger-table", getenv(config.LedgerTable), "the ledger (output LedgerTableName); default $"+config.LedgerTable)
	fs.StringVar(&s.webhookURL, "webhook-url", getenv(config.WebhookURL), "the hub's webhook URL (output WebhookUrl); default $"+config.WebhookURL)
	fs.BoolVar(&s.allowPrivate, "allow-private-shops", getenv(config.AllowPrivateShops) == "true",
		"let shop addresses reach loopback and private networks (make run's stand-in shops only); default $"+config.AllowPrivateShops)
	fs.StringVar(&s.waitingQueueURL, "waiting-queue-url", getenv(config.WaitingQueueURL),
		"with list: also how many orders wait for Logistos, all shops together (output WaitingQueueUrl); default $"+config.WaitingQueueURL)
	fs.BoolVar(&s.yes, "yes", false, "really disconnect")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(out, usageHead)
			fs.SetOutput(out)
			fs.PrintDefaults()
			return nil
		}
		return fmt.Errorf("%w (shops -h lists the flags)", err)
	}
	cmd, ref, err := command(fs.Args())
	if err != nil {
		return err
	}
	if err := s.check(cmd); err != nil {
		return err
	}
	if cmd == "disconnect" && !s.yes {
		return fmt.Errorf("disconnect forgets %s's keys and removes its webhooks to this hub; run it again with -yes to do it", ref)
	}
	cfg, err := awsConfig(ctx, getenv)
	if err != nil {
		return err
	}
	f := s.fleet(cfg)
	switch cmd {
	case "list":
		hs, err := f.List(ctx)
		if err != nil {
			return err
		}
		printList(out, hs)
		if s.waitingQueueURL != "" {
			n, err := waiting(ctx, sqs.NewFromConfig(cfg), s.waitingQueueURL)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "\n%d orders wait for Logistos, all shops together (they go on by themselves once it answers)\n", n)
		}
	case "show":
		h, err := f.Show(ctx, ref)
		if err != nil {
			return err
		}
		printShow(out, h, f.Webhooks(ctx, h.Shop))
	case "disconnect":
		d, err := f.Disconnect(ctx, ref)
		if err != nil {
			return err
		}
		printDisconnected(out, d)
	}
	return nil
}

// waiting counts the orders on the waiting queue, hidden ones included.
func waiting(ctx context.Context, c *sqs.Client, url string) (int, error) {
	out, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &url, AttributeNames: []sqstypes.QueueAttributeName{
		sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
	}})
	if err != nil {
		return 0, fmt.Errorf("count the orders waiting on %s: %w", url, err)
	}
	n := 0
	for _, v := range out.Attributes {
		k, _ := strconv.Atoi(v)
		n += k
	}
	return n, nil
}

// command reads the command and its shop.
func command(args []string) (cmd, ref string, err error) {
	switch {
	case len(args) == 1 && args[0] == "list":
		return "list", "", nil
	case len(args) == 2 && (args[0] == "show" || args[0] == "disconnect"):
		return args[0], args[1], nil
	case len(args) == 0:
		return "", "", errors.New("say what to do: list, show <shop> or disconnect <shop> (shops -h for more)")
	}
	return "", "", fmt.Errorf("unexpected arguments %q: want list, show <shop> or disconnect <shop> (shops -h for more)", args)
}

// check reports every setting the command needs and lacks, at once.
func (s settings) check(cmd string) error {
	need := map[string]string{"-shops-table": s.shopsTable, "-state-table": s.stateTable, "-ledger-table": s.ledgerTable}
	if cmd != "list" {
		need["-webhook-url"] = s.webhookURL
	}
	if cmd == "disconnect" {
		need["-shops-key"] = s.shopsKey
	}
	var missing []string
	for _, name := range []string{"-shops-table", "-shops-key", "-state-table", "-ledger-table", "-webhook-url"} {
		if v, ok := need[name]; ok && v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s not set: give the hub stack's outputs (shops -h says which)", strings.Join(missing, ", "))
	}
	return nil
}

// awsConfig is the SDK's standard configuration, or the local stack's when
// AWS_ENDPOINT_URL names a loopback endpoint and no credentials are set.
func awsConfig(ctx context.Context, getenv func(string) string) (aws.Config, error) {
	if ep := getenv("AWS_ENDPOINT_URL"); ep != "" && getenv("AWS_ACCESS_KEY_ID") == "" {
		if u, err := url.Parse(ep); err == nil && outbound.IsLoopback(u.Hostname()) {
			return config.LocalAWS(ep), nil
		}
	}
	return config.AWS(ctx)
}

// fleet wires the operator's view of the hub's tables.
func (s settings) fleet(cfg aws.Config) *fleet.Fleet {
	db := dynamodb.NewFromConfig(cfg)
	states := state.Open(db, s.stateTable)
	hc := wooapi.NewHTTPClient(s.allowPrivate)
	return &fleet.Fleet{
		Shops:      shops.Open(db, kms.NewFromConfig(cfg), s.shopsTable, s.shopsKey),
		WebhookURL: s.webhookURL,
		LastOrder: func(ctx context.Context, id string) (int64, time.Time, error) {
			e, _, err := ledger.Latest(ctx, db, s.ledgerTable, id)
			return e.OrderID, e.ReceivedAt, err
		},
		LastSweep: func(ctx context.Context, id string) (fleet.Sweep, error) {
			l, err := reconcile.ReadLastSweep(ctx, states, id)
			return fleet.Sweep{At: l.At, Outcome: l.Outcome, Unauthorized: l.Unauthorized}, err
		},
		Shop: func(storeURL string, k wooapi.Key) (hookreg.Shop, error) {
			return wooapi.NewClient(hc, storeURL, k)
		},
	}
}
