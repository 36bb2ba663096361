package config

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// AWSRequestTimeout bounds one AWS API call attempt; the SDK's retryer
// makes up to three.
const AWSRequestTimeout = 5 * time.Second

// AWS loads the SDK configuration the standard way (region and credentials
// from the Lambda environment; emulator endpoints from AWS_ENDPOINT_URL and
// AWS_ENDPOINT_URL_<SERVICE>) with an HTTP client that cannot hang.
func AWS(ctx context.Context) (aws.Config, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx,
		awsconfig.WithHTTPClient(awshttp.NewBuildableClient().WithTimeout(AWSRequestTimeout)),
	)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	return cfg, nil
}

// The local stack (`make run`'s embedded emulator) as the SDK sees it: its
// region and the fixed, fake credentials it accepts. They are defined here
// rather than in local/stack so that operator commands in this module can
// target the local stack without linking the emulator.
const (
	LocalRegion          = "us-east-1"
	LocalAccessKeyID     = "local"
	LocalSecretAccessKey = "local"
)

// LocalAWS is the SDK configuration for the local stack at endpoint: the
// local region and fake credentials, and nothing read from the environment
// or an AWS profile, so that it works on a machine with no AWS setup (and
// cannot pick up real credentials by accident).
func LocalAWS(endpoint string) aws.Config {
	return aws.Config{
		Region:       LocalRegion,
		Credentials:  credentials.NewStaticCredentialsProvider(LocalAccessKeyID, LocalSecretAccessKey, ""),
		BaseEndpoint: aws.String(endpoint),
		HTTPClient:   awshttp.NewBuildableClient().WithTimeout(AWSRequestTimeout),
	}
}
