package stack

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/logistos-sync/logistos-sync/shared/ledger"
	"github.com/logistos-sync/logistos-sync/shared/state"
)

// Table names of a local stack (plus Options.Suffix).
const (
	StateTableName  = "logistos-sync-state"
	LedgerTableName = "logistos-sync-ledger"
)

// createTables makes the state and ledger tables with template.yaml's keys
// (the template check pins those to the code's attribute names): a hub's
// ledger is keyed by shop and order id.
func (s *Stack) createTables(ctx context.Context, suffix string, hub bool) error {
	if hub {
		s.StateTable, s.LedgerTable = StateTableName+suffix, HubLedgerTableName+suffix
		if err := EnsureTable(ctx, s.DynamoDB, s.StateTable, state.AttrID, types.ScalarAttributeTypeS); err != nil {
			return err
		}
		return s.EnsureHubLedger(ctx, s.LedgerTable)
	}
	s.StateTable, s.LedgerTable = StateTableName+suffix, LedgerTableName+suffix
	return s.EnsureTables(ctx, s.StateTable, s.LedgerTable)
}

// EnsureTables creates a state table and a ledger table with the template's
// keys unless they exist.
func (s *Stack) EnsureTables(ctx context.Context, stateTable, ledgerTable string) error {
	if err := EnsureTable(ctx, s.DynamoDB, stateTable, state.AttrID, types.ScalarAttributeTypeS); err != nil {
		return err
	}
	return EnsureTable(ctx, s.DynamoDB, ledgerTable, ledger.AttrOrderID, types.ScalarAttributeTypeN)
}

// EnsureTable creates a pay-per-request table keyed by key (of type typ)
// unless it exists.
func EnsureTable(ctx context.Context, db *dynamodb.Client, name, key string, typ types.ScalarAttributeType) error {
	if _, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &name}); err == nil {
		return nil
	}
	_, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String(key), AttributeType: typ}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String(key), KeyType: types.KeyTypeHash}},
	})
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("create table %s: %w", name, err)
	}
	return nil
}

// HubLedgerTableName is a hub's ledger (plus Options.Suffix): keyed by shop
// and order id, as template.yaml makes it when StoreUrl is empty.
const HubLedgerTableName = "logistos-sync-hub-ledger"

// EnsureHubLedger creates a hub's ledger table unless it exists.
func (s *Stack) EnsureHubLedger(ctx context.Context, name string) error {
	if _, err := s.DynamoDB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: &name}); err == nil {
		return nil
	}
	_, err := s.DynamoDB.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(ledger.AttrShop), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(ledger.AttrOrderID), AttributeType: types.ScalarAttributeTypeN},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(ledger.AttrShop), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(ledger.AttrOrderID), KeyType: types.KeyTypeRange},
		},
	})
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("create table %s: %w", name, err)
	}
	return nil
}
