package wookey

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/logistos-sync/logistos-sync/shared/wooapi"
)

// PutAPI is the part of the Secrets Manager client a Writer uses.
type PutAPI interface {
	PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
}

// Writer stores a key in the credentials secret, in the shape Secret
// reads: activation writes a key that arrived through connect once the
// shop has accepted it.
type Writer struct {
	Client PutAPI
	ARN    string
}

// Put makes k the secret's current value; the previous value stays as
// AWSPREVIOUS, so a replaced key can still be found in Secrets Manager.
// version (32 to 64 characters) names the secret's version: putting the
// same key as the same version again (a retried run) writes nothing new.
func (w Writer) Put(ctx context.Context, k wooapi.Key, version string) error {
	b, err := json.Marshal(k)
	if err != nil {
		return fmt.Errorf("encode the WooCommerce key: %w", err)
	}
	s := string(b)
	in := &secretsmanager.PutSecretValueInput{SecretId: &w.ARN, SecretString: &s, ClientRequestToken: &version}
	if _, err := w.Client.PutSecretValue(ctx, in); err != nil {
		return fmt.Errorf("store the WooCommerce key in the credentials secret: %w", err)
	}
	return nil
}
