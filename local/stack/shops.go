package stack

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/logistos-sync/logistos-sync/shared/shops"
)

// ShopsTableName is a hub's shops table (plus a suffix), keyed as
// template.yaml's ShopsTable.
const ShopsTableName = "logistos-sync-shops"

// EnsureShopsTable creates a hub's shops table unless it exists.
func (s *Stack) EnsureShopsTable(ctx context.Context, name string) error {
	return EnsureTable(ctx, s.DynamoDB, name, shops.AttrID, types.ScalarAttributeTypeS)
}

// CreateShopsKey creates a symmetric KMS key, as template.yaml's ShopsKey,
// and returns its id. Each call makes a new key, so tests never share one.
func (s *Stack) CreateShopsKey(ctx context.Context) (string, error) {
	out, err := s.KMS.CreateKey(ctx, &kms.CreateKeyInput{
		Description: aws.String("logistos-sync shops' secrets (local)"),
		KeySpec:     kmstypes.KeySpecSymmetricDefault,
		KeyUsage:    kmstypes.KeyUsageTypeEncryptDecrypt,
	})
	if err != nil {
		return "", fmt.Errorf("create the shops key: %w", err)
	}
	return aws.ToString(out.KeyMetadata.KeyId), nil
}
