// Package stack is the AWS side of a local run: an embedded kumo emulator
// holding the orders queue, the backfill queue, their dead-letter queue and
// the webhook secret, created as template.yaml creates them in AWS.
package stack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	smithylog "github.com/aws/smithy-go/logging"
	"github.com/sivchari/kumo"

	"github.com/logistos-sync/logistos-sync/shared/config"
)

// Names of what the stack creates.
const (
	QueueName         = "logistos-sync-orders"
	BackfillQueueName = "logistos-sync-backfill"
	DLQName           = "logistos-sync-orders-dlq"
	WaitingQueueName  = "logistos-sync-waiting"
	// SweepQueueName is a hub's sweep queue (Options.Hub).
	SweepQueueName = "logistos-sync-sweep"
	// SweepVisibilityTimeout is the sweep queue's, as template.yaml's: 6 x
	// reconcile's timeout.
	SweepVisibilityTimeout = 5400
	WebhookSecretName      = "logistos-sync/webhook-secret"
	// WooCredentialsSecretName is the shop's REST key secret, which
	// connect writes.
	WooCredentialsSecretName = "logistos-sync/woo-credentials"
	// EmptyWooCredentials is that secret before the shop is connected, as
	// the template writes it with the key parameters left empty.
	EmptyWooCredentials = `{"consumer_key":"","consumer_secret":""}`
	// Region is the local stack's; defined in shared/config so that
	// operator commands can target the local stack without this package.
	Region = config.LocalRegion
	// DefaultWebhookSecret is the local webhook secret when none is given.
	DefaultWebhookSecret = "local-webhook-secret"
	// DefaultPort is where `make run` exposes the emulator, so that other
	// commands (make activate, make redrive, the aws CLI) can reach it.
	DefaultPort = 4566
)

// Options shape a stack.
type Options struct {
	// Port exposes the emulator on 127.0.0.1:Port; 0 keeps only kumo's
	// random port (tests).
	Port int
	// VisibilityTimeout of the orders and backfill queues, in seconds
	// (default 30).
	VisibilityTimeout int
	// MaxReceiveCount before SQS moves a message to the waiting queue
	// (default 5).
	MaxReceiveCount int
	// WebhookSecret is the secret's value (default DefaultWebhookSecret).
	WebhookSecret string
	// Tables also creates the state and ledger tables (STATE_TABLE,
	// LEDGER_TABLE) as template.yaml defines them.
	Tables bool
	// Hub makes the stack a hub's (template.yaml with StoreUrl empty): the
	// shops table and its KMS key (SHOPS_TABLE, SHOPS_KEY_ID), and with
	// Tables the ledger keyed by shop and order id.
	Hub bool
	// Suffix is appended to the queue and secret names. kumo keeps its
	// state per process, not per server, so tests that start several stacks
	// in one process give each its own suffix to keep them apart.
	Suffix string
}

// Stack is a running local AWS.
type Stack struct {
	// Endpoint is the AWS endpoint URL every client uses.
	Endpoint string
	AWS      aws.Config
	SQS      *sqs.Client
	Secrets  *secretsmanager.Client
	DynamoDB *dynamodb.Client
	// KMS holds a hub's shops key (CreateShopsKey).
	KMS *kms.Client

	QueueURL, QueueARN string
	// BackfillQueueURL and BackfillQueueARN are the backfill's queue.
	BackfillQueueURL, BackfillQueueARN string
	DLQURL, DLQARN                     string
	// WaitingQueueURL and WaitingQueueARN are where orders whose tries ran
	// out wait for Logistos: the orders and backfill queues' redrive target.
	WaitingQueueURL, WaitingQueueARN string
	WebhookSecretARN                 string
	WebhookSecret                    string
	// WooCredentialsSecretARN is the shop's REST key secret, empty
	// (EmptyWooCredentials) until connect writes the key WooCommerce
	// generated.
	WooCredentialsSecretARN string
	// StateTable and LedgerTable are the tables' names when Options.Tables
	// asked for them.
	StateTable, LedgerTable string
	// ShopsTable and ShopsKeyID are a hub's shops table and the KMS key
	// their secrets are sealed under, when Options.Hub asked for them.
	ShopsTable, ShopsKeyID string
	// SweepQueueURL is a hub's sweep queue (Options.Hub): reconcile's
	// scheduled run puts one job per connected shop there.
	SweepQueueURL, SweepQueueARN string

	closers []func()
}

// Start runs kumo in this process and creates the queues and the secret.
func Start(ctx context.Context, o Options) (*Stack, error) {
	srv := kumo.NewServer()
	s := &Stack{Endpoint: srv.URL, closers: []func(){srv.Close}}
	if o.Port != 0 {
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(o.Port))
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("expose the AWS emulator on 127.0.0.1:%d: %w (another `make run` running? choose another port with "+
				"AWS_PORT, e.g. AWS_PORT=4567 make run, and give make activate the same: AWS_ENDPOINT_URL=http://127.0.0.1:4567)", o.Port, err)
		}
		target, _ := url.Parse(srv.URL)
		rp := httputil.NewSingleHostReverseProxy(target)
		rp.ErrorHandler = quietProxyError
		rp.ErrorLog = log.New(quietWriter{log.Writer()}, "", log.LstdFlags)
		// Its own connections to kumo, apart from http.DefaultTransport's,
		// which anything else in the process may close.
		rp.Transport = http.DefaultTransport.(*http.Transport).Clone()
		proxy := &http.Server{Handler: rp, ReadHeaderTimeout: 10 * time.Second}
		go proxy.Serve(ln)
		s.Endpoint = "http://" + ln.Addr().String()
		s.closers = append(s.closers, func() { proxy.Close() })
	}
	if err := s.connect(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.create(ctx, o); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Fork creates another set of queues and secret, named with o.Suffix (which
// must differ from every other stack's), on the same emulator: tests in one
// process share one kumo, whose state is global and whose servers cannot be
// started concurrently. o.Port is ignored. The fork shares s's clients;
// closing it does nothing, closing s stops both.
func (s *Stack) Fork(ctx context.Context, o Options) (*Stack, error) {
	f := &Stack{Endpoint: s.Endpoint, AWS: s.AWS, SQS: s.SQS, Secrets: s.Secrets, DynamoDB: s.DynamoDB, KMS: s.KMS}
	if err := f.create(ctx, o); err != nil {
		return nil, err
	}
	return f, nil
}

// quietProxyError answers 502 like the proxy's default, without logging a
// line for each client that went away: every long poll cut short at
// shutdown, and a request whose body stopped half-way because its client
// was stopped (make activate interrupted with Ctrl-C).
func quietProxyError(w http.ResponseWriter, r *http.Request, err error) {
	if !clientGone(r, err) {
		log.Printf("aws emulator proxy: %s %s: %v", r.Method, r.URL.Path, err)
	}
	w.WriteHeader(http.StatusBadGateway)
}

// quietWriter drops the proxy's log lines about a body copy cut short
// because the client went away: the proxy then closes its connection to
// kumo itself ("use of closed network connection").
type quietWriter struct{ w io.Writer }

func (q quietWriter) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte("use of closed network connection")) || bytes.Contains(p, []byte("context canceled")) {
		return len(p), nil
	}
	return q.w.Write(p)
}

// clientGone reports whether a proxy error comes from the client's side.
func clientGone(r *http.Request, err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, io.ErrUnexpectedEOF) || r.Context().Err() != nil
}

// Dial connects to the stack of a running `make run` at endpoint.
func Dial(ctx context.Context, endpoint string) (*Stack, error) {
	s := &Stack{Endpoint: endpoint}
	if err := s.connect(ctx); err != nil {
		return nil, err
	}
	var err error
	if s.QueueURL, s.QueueARN, err = s.lookup(ctx, QueueName); err != nil {
		return nil, fmt.Errorf("no local stack at %s: %w", endpoint, err)
	}
	if s.BackfillQueueURL, s.BackfillQueueARN, err = s.lookup(ctx, BackfillQueueName); err != nil {
		return nil, err
	}
	if s.DLQURL, s.DLQARN, err = s.lookup(ctx, DLQName); err != nil {
		return nil, err
	}
	if s.WaitingQueueURL, s.WaitingQueueARN, err = s.lookup(ctx, WaitingQueueName); err != nil {
		return nil, err
	}
	sec, err := s.Secrets.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(WebhookSecretName)})
	if err != nil {
		return nil, fmt.Errorf("read local webhook secret: %w", err)
	}
	s.WebhookSecretARN, s.WebhookSecret = aws.ToString(sec.ARN), aws.ToString(sec.SecretString)
	return s, nil
}

// Credentials are the emulator's fixed, fake credentials.
var Credentials = credentials.NewStaticCredentialsProvider(config.LocalAccessKeyID, config.LocalSecretAccessKey, "")

func (s *Stack) connect(ctx context.Context) error {
	cfg, err := awsconfig.LoadDefaultConfig(ctx,
		// kumo's answers lack the CRC32 checksum the SDK verifies (DynamoDB),
		// which makes the SDK log a warning per call; only the local
		// stack's clients drop the SDK's own log lines.
		awsconfig.WithLogger(smithylog.Nop{}),
		awsconfig.WithRegion(Region),
		awsconfig.WithCredentialsProvider(Credentials),
		awsconfig.WithBaseEndpoint(s.Endpoint),
	)
	if err != nil {
		return fmt.Errorf("aws config: %w", err)
	}
	cfg.HTTPClient = serialSecrets{next: cfg.HTTPClient}
	s.AWS = cfg
	s.SQS = sqs.NewFromConfig(cfg)
	s.Secrets = secretsmanager.NewFromConfig(cfg)
	s.DynamoDB = dynamodb.NewFromConfig(cfg)
	s.KMS = kms.NewFromConfig(cfg)
	return nil
}

// waitingMaxReceiveCount is template.yaml's WaitingQueue maxReceiveCount.
const waitingMaxReceiveCount = 1000

func (s *Stack) create(ctx context.Context, o Options) error {
	if o.VisibilityTimeout == 0 {
		o.VisibilityTimeout = 30
	}
	if o.MaxReceiveCount == 0 {
		o.MaxReceiveCount = 5
	}
	if o.WebhookSecret == "" {
		o.WebhookSecret = DefaultWebhookSecret
	}
	var err error
	if s.DLQURL, s.DLQARN, err = s.createQueue(ctx, DLQName+o.Suffix, map[string]string{
		"MessageRetentionPeriod": "1209600",
		"MaximumMessageSize":     "1048576",
	}); err != nil {
		return err
	}
	// The waiting queue redrives to the DLQ after waitingMaxReceiveCount
	// canaries, as in template.yaml.
	toDLQ, _ := json.Marshal(map[string]string{"deadLetterTargetArn": s.DLQARN, "maxReceiveCount": strconv.Itoa(waitingMaxReceiveCount)})
	if s.WaitingQueueURL, s.WaitingQueueARN, err = s.createQueue(ctx, WaitingQueueName+o.Suffix, map[string]string{
		"MessageRetentionPeriod": "1209600",
		"MaximumMessageSize":     "1048576",
		"RedrivePolicy":          string(toDLQ),
	}); err != nil {
		return err
	}
	// The two queues the forwarder consumes share their settings and their
	// redrive policy, as in template.yaml.
	redrive, _ := json.Marshal(map[string]string{"deadLetterTargetArn": s.WaitingQueueARN, "maxReceiveCount": strconv.Itoa(o.MaxReceiveCount)})
	consumed := map[string]string{
		"VisibilityTimeout":      strconv.Itoa(o.VisibilityTimeout),
		"MaximumMessageSize":     "1048576",
		"MessageRetentionPeriod": "1209600",
		"RedrivePolicy":          string(redrive),
	}
	if s.QueueURL, s.QueueARN, err = s.createQueue(ctx, QueueName+o.Suffix, consumed); err != nil {
		return err
	}
	if s.BackfillQueueURL, s.BackfillQueueARN, err = s.createQueue(ctx, BackfillQueueName+o.Suffix, consumed); err != nil {
		return err
	}
	if s.WebhookSecretARN, err = s.ensureSecret(ctx, WebhookSecretName+o.Suffix, o.WebhookSecret); err != nil {
		return fmt.Errorf("create webhook secret: %w", err)
	}
	s.WebhookSecret = o.WebhookSecret
	// As the template makes it with the key parameters left empty: the shop
	// is not connected until connect writes a key.
	if s.WooCredentialsSecretARN, err = s.ensureSecret(ctx, WooCredentialsSecretName+o.Suffix, EmptyWooCredentials); err != nil {
		return fmt.Errorf("create WooCommerce credentials secret: %w", err)
	}
	if o.Hub {
		s.ShopsTable = ShopsTableName + o.Suffix
		if err := s.EnsureShopsTable(ctx, s.ShopsTable); err != nil {
			return err
		}
		if s.ShopsKeyID, err = s.CreateShopsKey(ctx); err != nil {
			return err
		}
		// As template.yaml's SweepQueue: no redrive, a day's retention.
		if s.SweepQueueURL, s.SweepQueueARN, err = s.createQueue(ctx, SweepQueueName+o.Suffix, map[string]string{
			"VisibilityTimeout":      strconv.Itoa(SweepVisibilityTimeout),
			"MessageRetentionPeriod": "86400",
		}); err != nil {
			return err
		}
	}
	if o.Tables {
		return s.createTables(ctx, o.Suffix, o.Hub)
	}
	return nil
}

// ensureSecret creates the secret name with value, or gives an existing
// one that value: kumo's state outlives one server within a process (tests
// run with -count).
func (s *Stack) ensureSecret(ctx context.Context, name, value string) (string, error) {
	sec, err := s.Secrets.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: &name, SecretString: &value})
	var exists *smtypes.ResourceExistsException
	if errors.As(err, &exists) {
		var put *secretsmanager.PutSecretValueOutput
		if put, err = s.Secrets.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: &name, SecretString: &value}); err == nil {
			return aws.ToString(put.ARN), nil
		}
	}
	if err != nil {
		return "", err
	}
	return aws.ToString(sec.ARN), nil
}

func (s *Stack) createQueue(ctx context.Context, name string, attrs map[string]string) (string, string, error) {
	out, err := s.SQS.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		return "", "", fmt.Errorf("create queue %s: %w", name, err)
	}
	// A queue left by an earlier stack of this process (kumo's state is per
	// process) starts over: the wanted attributes, and empty.
	if _, err := s.SQS.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: out.QueueUrl, Attributes: attrs}); err != nil {
		return "", "", fmt.Errorf("set attributes of queue %s: %w", name, err)
	}
	if _, err := s.SQS.PurgeQueue(ctx, &sqs.PurgeQueueInput{QueueUrl: out.QueueUrl}); err != nil {
		return "", "", fmt.Errorf("purge queue %s: %w", name, err)
	}
	return s.arnOf(ctx, aws.ToString(out.QueueUrl))
}

func (s *Stack) lookup(ctx context.Context, name string) (string, string, error) {
	out, err := s.SQS.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
	if err != nil {
		return "", "", fmt.Errorf("find queue %s: %w", name, err)
	}
	return s.arnOf(ctx, aws.ToString(out.QueueUrl))
}

func (s *Stack) arnOf(ctx context.Context, queueURL string) (string, string, error) {
	a, err := s.SQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(queueURL), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn},
	})
	if err != nil {
		return "", "", fmt.Errorf("queue arn of %s: %w", queueURL, err)
	}
	arn := a.Attributes[string(types.QueueAttributeNameQueueArn)]
	if arn == "" {
		return "", "", errors.New("queue has no ARN attribute")
	}
	return queueURL, arn, nil
}

// ReachableURL returns queueURL on the host and port of s.Endpoint. kumo
// names every queue http://localhost:4566/<account>/<name> whatever port it
// serves on, and finds a queue by the URL's path; this form also reaches it
// for a client that takes its endpoint from the URL (cmd/redrive), when the
// stack is on another port (AWS_PORT, tests).
func (s *Stack) ReachableURL(queueURL string) string {
	u, err := url.Parse(queueURL)
	if err != nil {
		return queueURL
	}
	e, err := url.Parse(s.Endpoint)
	if err != nil {
		return queueURL
	}
	u.Scheme, u.Host = e.Scheme, e.Host
	return u.String()
}

// Close stops the emulator.
func (s *Stack) Close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	s.closers = nil
}
