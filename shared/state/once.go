package state

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// AttrExpires is the state table's TTL attribute (epoch seconds): DynamoDB
// deletes an expired item some time after it expires, so readers must also
// compare it with the clock themselves.
const AttrExpires = "expires_at"

// ErrSpent means a single-use document is unknown, already spent or expired.
// The three are not told apart: a caller answering a stranger must not
// reveal which states exist.
var ErrSpent = errors.New("no such single-use document: unknown, already used or expired")

// Once keeps single-use documents that expire (connect's states).
type Once interface {
	// Issue stores a new document id that expires at expires; ErrConflict
	// if one with that id exists.
	Issue(ctx context.Context, id string, expires time.Time) error
	// Spend removes id if it exists and has not expired, atomically: of
	// two concurrent calls at most one succeeds. ErrSpent otherwise.
	Spend(ctx context.Context, id string) error
}

// OpenOnce returns single-use documents in table, or in memory when table
// is empty (local runs).
func OpenOnce(client OnceAPI, table string) Once {
	if table == "" {
		return &MemoryOnce{}
	}
	return &DynamoDBOnce{Client: client, Table: table}
}

// MemoryOnce is a Once in this process's memory: local runs and tests.
type MemoryOnce struct {
	// Now is the clock; time.Now when nil.
	Now func() time.Time

	mu   sync.Mutex
	docs map[string]time.Time
}

func clock(now func() time.Time) time.Time {
	if now != nil {
		return now()
	}
	return time.Now()
}

// Issue stores id until expires.
func (m *MemoryOnce) Issue(_ context.Context, id string, expires time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.docs == nil {
		m.docs = make(map[string]time.Time)
	}
	if _, ok := m.docs[id]; ok {
		return ErrConflict
	}
	m.docs[id] = expires
	return nil
}

// Spend removes id if it is there and not expired.
func (m *MemoryOnce) Spend(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	exp, ok := m.docs[id]
	if !ok {
		return ErrSpent
	}
	delete(m.docs, id)
	if !clock(m.Now).Before(exp) {
		return ErrSpent
	}
	return nil
}

// OnceAPI is the part of the DynamoDB client a DynamoDBOnce uses.
type OnceAPI interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

// DynamoDBOnce keeps single-use documents as items of the state table with
// its TTL attribute set, so that unspent ones disappear by themselves.
type DynamoDBOnce struct {
	Client OnceAPI
	Table  string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Issue puts the item if no item has its id.
func (d *DynamoDBOnce) Issue(ctx context.Context, id string, expires time.Time) error {
	now := clock(d.Now)
	_, err := d.Client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: &d.Table,
		Item: map[string]types.AttributeValue{
			AttrID:      &types.AttributeValueMemberS{Value: id},
			AttrExpires: &types.AttributeValueMemberN{Value: strconv.FormatInt(expires.Unix(), 10)},
			AttrUpdated: &types.AttributeValueMemberS{Value: now.UTC().Format(time.RFC3339)},
		},
		ConditionExpression:      aws.String("attribute_not_exists(#id)"),
		ExpressionAttributeNames: map[string]string{"#id": AttrID},
	})
	if conditionFailed(err) {
		return ErrConflict
	}
	if err != nil {
		return fmt.Errorf("write a single-use document to table %s: %w", d.Table, err)
	}
	return nil
}

// Spend deletes the item on the condition that it exists and has not
// expired: one conditional write, so two concurrent replays cannot both
// pass, and an expired item the TTL has not yet removed does not count.
func (d *DynamoDBOnce) Spend(ctx context.Context, id string) error {
	now := clock(d.Now)
	_, err := d.Client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                &d.Table,
		Key:                      map[string]types.AttributeValue{AttrID: &types.AttributeValueMemberS{Value: id}},
		ConditionExpression:      aws.String("attribute_exists(#id) AND #exp > :now"),
		ExpressionAttributeNames: map[string]string{"#id": AttrID, "#exp": AttrExpires},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":now": &types.AttributeValueMemberN{Value: strconv.FormatInt(now.Unix(), 10)},
		},
	})
	if conditionFailed(err) {
		return ErrSpent
	}
	if err != nil {
		// The id is a secret (connect's state): never put it in an error.
		return fmt.Errorf("spend a single-use document in table %s: %w", d.Table, err)
	}
	return nil
}
