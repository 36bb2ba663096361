package config

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
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
