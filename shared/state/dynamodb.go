package state

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
)

// Attribute names of a state item. The table's partition key is
// AttrID (a string); nothing else is declared in the table's schema.
const (
	AttrID      = "id"
	AttrVersion = "version"
	AttrState   = "state"
	AttrUpdated = "updated_at"
)

// DynamoDBAPI is the part of the DynamoDB client a DynamoDB store uses.
type DynamoDBAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
}

// DynamoDB is a Store in a DynamoDB table (partition key "id", type S). The
// document is kept as a JSON string, readable in the console.
type DynamoDB struct {
	Client DynamoDBAPI
	Table  string
	// Now stamps updated_at; time.Now when nil.
	Now func() time.Time
}

// Open returns the store in table, or one in memory when table is empty
// (local runs).
func Open(client DynamoDBAPI, table string) Store {
	if table == "" {
		return &Memory{}
	}
	return &DynamoDB{Client: client, Table: table}
}

// Get reads the document with a strongly consistent read, so that a run
// resuming right after another sees its last write.
func (d *DynamoDB) Get(ctx context.Context, id string) ([]byte, int64, error) {
	out, err := d.Client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      &d.Table,
		Key:            map[string]types.AttributeValue{AttrID: &types.AttributeValueMemberS{Value: id}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, 0, fmt.Errorf("read state %s from table %s: %w", id, d.Table, err)
	}
	if len(out.Item) == 0 {
		return nil, 0, nil
	}
	v, ok := out.Item[AttrVersion].(*types.AttributeValueMemberN)
	s, ok2 := out.Item[AttrState].(*types.AttributeValueMemberS)
	if !ok || !ok2 {
		return nil, 0, fmt.Errorf("state %s in table %s lacks %s or %s", id, d.Table, AttrVersion, AttrState)
	}
	version, err := strconv.ParseInt(v.Value, 10, 64)
	if err != nil {
		return nil, 0, fmt.Errorf("state %s: bad %s %q", id, AttrVersion, v.Value)
	}
	return []byte(s.Value), version, nil
}

// Put writes the document if the stored version is still version.
func (d *DynamoDB) Put(ctx context.Context, id string, doc []byte, version int64) (int64, error) {
	now := time.Now
	if d.Now != nil {
		now = d.Now
	}
	in := &dynamodb.PutItemInput{
		TableName: &d.Table,
		Item: map[string]types.AttributeValue{
			AttrID:      &types.AttributeValueMemberS{Value: id},
			AttrVersion: &types.AttributeValueMemberN{Value: strconv.FormatInt(version+1, 10)},
			AttrState:   &types.AttributeValueMemberS{Value: string(doc)},
			AttrUpdated: &types.AttributeValueMemberS{Value: now().UTC().Format(time.RFC3339)},
		},
	}
	// DynamoDB rejects expression names an expression does not use, so
	// each branch declares only its own.
	if version == 0 {
		in.ConditionExpression = aws.String("attribute_not_exists(#id)")
		in.ExpressionAttributeNames = map[string]string{"#id": AttrID}
	} else {
		in.ConditionExpression = aws.String("#v = :v")
		in.ExpressionAttributeNames = map[string]string{"#v": AttrVersion}
		in.ExpressionAttributeValues = map[string]types.AttributeValue{":v": &types.AttributeValueMemberN{Value: strconv.FormatInt(version, 10)}}
	}
	if _, err := d.Client.PutItem(ctx, in); err != nil {
		if conditionFailed(err) {
			return 0, ErrConflict
		}
		return 0, fmt.Errorf("write state %s to table %s: %w", id, d.Table, err)
	}
	return version + 1, nil
}

// conditionFailed recognises a failed condition, typed or (from emulators)
// by its error code only.
func conditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return true
	}
	var api smithy.APIError
	return errors.As(err, &api) && api.ErrorCode() == "ConditionalCheckFailedException"
}
