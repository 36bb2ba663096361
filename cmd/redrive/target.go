package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/logistos-sync/logistos-sync/shared/config"
	"github.com/logistos-sync/logistos-sync/shared/outbound"
)

// The SDK's standard variables for a custom endpoint: when either is set,
// the user has chosen where requests go, and a loopback queue URL is not
// taken as the local stack.
const (
	envEndpoint    = "AWS_ENDPOINT_URL"
	envEndpointSQS = "AWS_ENDPOINT_URL_SQS"
)

// whereToFindURLs ends every error about the queue URLs: where they come from.
const whereToFindURLs = "they are the stack outputs OrdersQueueUrl and DeadLetterQueueUrl " +
	`(aws cloudformation describe-stacks --stack-name <name> --query "Stacks[0].Outputs"); ` +
	"`make run` prints the local stack's"

// queueRef is what an SQS queue URL says about its queue.
type queueRef struct {
	URL     string
	Account string
	// Region is the one the host names; empty for hosts that name none
	// (loopback, custom endpoints).
	Region string
	// Local is scheme://host:port for a loopback URL, as the local stack's
	// are; empty otherwise.
	Local string
}

// parseQueueURL reads an SQS queue URL: https://sqs.<region>.amazonaws.com/<account>/<name>,
// the legacy https://<region>.queue.amazonaws.com/<account>/<name>, or the
// local stack's http://localhost:4566/<account>/<name>.
func parseQueueURL(raw string) (queueRef, error) {
	if err := outbound.CheckURL(raw); err != nil {
		return queueRef{}, err
	}
	u, _ := url.Parse(raw)
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) != 2 || !isAccount(parts[0]) || parts[1] == "" {
		return queueRef{}, fmt.Errorf("%q is not an SQS queue URL: want https://sqs.<region>.amazonaws.com/<12-digit account>/<queue name>", raw)
	}
	q := queueRef{URL: raw, Account: parts[0]}
	if outbound.IsLoopback(u.Hostname()) {
		q.Local = u.Scheme + "://" + u.Host
	} else {
		q.Region = regionOf(u.Hostname())
	}
	return q, nil
}

func isAccount(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// regionOf returns the region an SQS host names, or "" for hosts outside
// AWS. It knows sqs.<region>.amazonaws.com (and sqs-fips., .amazonaws.com.cn,
// VPC endpoints' ...sqs.<region>.vpce.amazonaws.com), the legacy
// <region>.queue.amazonaws.com, and queue.amazonaws.com, the legacy form of
// us-east-1.
func regionOf(host string) string {
	host = strings.ToLower(host)
	var rest string
	for _, suffix := range []string{".amazonaws.com.cn", ".amazonaws.com"} {
		if r, ok := strings.CutSuffix(host, suffix); ok {
			rest = r
			break
		}
	}
	labels := strings.Split(rest, ".")
	switch {
	case rest == "":
		return ""
	case rest == "queue":
		return "us-east-1"
	case len(labels) == 2 && labels[1] == "queue":
		return labels[0]
	}
	for i, l := range labels[:len(labels)-1] {
		if l == "sqs" || l == "sqs-fips" {
			return labels[i+1]
		}
	}
	return ""
}

// target is what a redrive acts on: two queues of one account and region,
// and where their API is.
type target struct {
	Queue, DLQ      queueRef
	Account, Region string
	// Local says the queues are the local stack's, reached at Endpoint with
	// fake credentials; otherwise the SDK's standard configuration is used,
	// and Endpoint is the custom endpoint it names, if any.
	Local    bool
	Endpoint string
}

// plan checks the two queue URLs belong together and decides how to reach
// them. It makes no request.
func plan(queueURL, dlqURL string, getenv func(string) string) (target, error) {
	var missing []string
	if queueURL == "" {
		missing = append(missing, "the orders queue URL (-queue-url or "+config.QueueURL+")")
	}
	if dlqURL == "" {
		missing = append(missing, "the dead-letter queue URL (-dlq-url or "+config.DLQURL+")")
	}
	if len(missing) > 0 {
		return target{}, fmt.Errorf("give %s; %s", strings.Join(missing, " and "), whereToFindURLs)
	}
	q, err := parseQueueURL(queueURL)
	if err != nil {
		return target{}, fmt.Errorf("orders queue: %w", err)
	}
	d, err := parseQueueURL(dlqURL)
	if err != nil {
		return target{}, fmt.Errorf("dead-letter queue: %w", err)
	}
	t := target{Queue: q, DLQ: d, Account: q.Account, Region: q.Region}
	switch {
	case q.URL == d.URL:
		return target{}, fmt.Errorf("the orders queue and the dead-letter queue are the same queue %s; %s", q.URL, whereToFindURLs)
	case q.Account != d.Account:
		return target{}, fmt.Errorf("the orders queue is in account %s and the dead-letter queue in account %s: give the two queues of one stack; %s", q.Account, d.Account, whereToFindURLs)
	case q.Region != d.Region:
		return target{}, fmt.Errorf("the orders queue is in region %s and the dead-letter queue in region %s: give the two queues of one stack; %s", orUnknown(q.Region), orUnknown(d.Region), whereToFindURLs)
	case q.Local != d.Local:
		return target{}, fmt.Errorf("the orders queue is at %s and the dead-letter queue at %s: give the two queues of one stack; %s", hostOf(q), hostOf(d), whereToFindURLs)
	}
	if custom := firstSet(getenv(envEndpointSQS), getenv(envEndpoint)); custom != "" {
		t.Endpoint = custom
	} else if q.Local != "" {
		t.Local, t.Endpoint, t.Region = true, q.Local, config.LocalRegion
	}
	return t, nil
}

// firstSet returns the first non-empty string.
func firstSet(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

func orUnknown(region string) string {
	if region == "" {
		return "(none named)"
	}
	return region
}

func hostOf(q queueRef) string {
	if q.Local != "" {
		return q.Local
	}
	u, _ := url.Parse(q.URL)
	return u.Host
}

// awsConfig is the SDK configuration that reaches t's queues. The queue
// URLs' region wins over the configured one: SQS answers for a queue only
// at its own region's endpoint.
func (t *target) awsConfig(ctx context.Context) (aws.Config, error) {
	if t.Local {
		return config.LocalAWS(t.Endpoint), nil
	}
	cfg, err := config.AWS(ctx)
	if err != nil {
		return aws.Config{}, fmt.Errorf("%w (set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, for account %s)", err, t.Account)
	}
	// Credentials are fetched now so that their absence is reported as
	// such, not as the failure of the first request.
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		return aws.Config{}, fmt.Errorf("no AWS credentials for account %s: run aws configure or aws sso login, or set AWS_PROFILE: %w", t.Account, err)
	}
	if t.Region != "" {
		cfg.Region = t.Region
	}
	if cfg.Region == "" {
		return aws.Config{}, errors.New("the queue URLs name no region and none is configured: set AWS_REGION")
	}
	t.Region = cfg.Region
	return cfg, nil
}

// describe says, before anything is done, what is acted on and as whom.
func (t target) describe() string {
	var where string
	switch {
	case t.Local:
		where = "the local stack at " + t.Endpoint + " (fake credentials; no AWS profile is read)"
	case t.Endpoint != "":
		where = "the endpoint " + t.Endpoint + " (" + envEndpoint + "), with the SDK's standard credentials"
	default:
		where = "AWS, with the SDK's standard credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID, ...)"
	}
	return fmt.Sprintf("account %s, region %s: %s\n  from dead-letter queue %s\n  to orders queue        %s",
		t.Account, t.Region, where, t.DLQ.URL, t.Queue.URL)
}
