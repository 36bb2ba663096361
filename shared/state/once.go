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

// ErrNotHeld means a spent document holds nothing (any more): it was never
// spent, its document was discarded, or its time ran out.
var ErrNotHeld = errors.New("no document held: never spent, discarded or expired")

// AttrHeld is the attribute of a spent item that holds what was kept with
// it (connect's pending key, as JSON).
const AttrHeld = "held"

// AttrBound is the attribute that records what a document was issued for
// (connect's state: the shop of a hub it may deliver a key for). Written
// once, by Issue, and never by Spend: whoever spends the document cannot
// change it. Absent when empty, so a single-shop stack's items are as before.
const AttrBound = "bound"

// Once keeps single-use documents that expire (connect's states). Spending
// one keeps a document with it for a while, for another function to pick
// up (the key that arrived with the state, until activation proves it).
type Once interface {
	// Issue stores a new document id, bound to bound (what it was issued
	// for; "" for nothing), that expires at expires; ErrConflict if one
	// with that id exists.
	Issue(ctx context.Context, id, bound string, expires time.Time) error
	// Spend marks id spent if it exists, is unspent and has not expired,
	// and keeps held with it until until; atomically, so of two concurrent
	// calls at most one succeeds. It returns what id was bound to at Issue.
	// ErrSpent otherwise.
	Spend(ctx context.Context, id string, held []byte, until time.Time) (bound string, err error)
	// Held returns what the spent id holds and what it was bound to at
	// Issue; ErrNotHeld when it holds nothing.
	Held(ctx context.Context, id string) (held []byte, bound string, err error)
	// Discard forgets id and what it holds; forgetting nothing is no error.
	Discard(ctx context.Context, id string) error
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
	docs map[string]onceDoc
}

type onceDoc struct {
	expires time.Time
	bound   string
	held    []byte // nil until spent
}

func clock(now func() time.Time) time.Time {
	if now != nil {
		return now()
	}
	return time.Now()
}

// Issue stores id, bound to bound, until expires.
func (m *MemoryOnce) Issue(_ context.Context, id, bound string, expires time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.docs == nil {
		m.docs = make(map[string]onceDoc)
	}
	if _, ok := m.docs[id]; ok {
		return ErrConflict
	}
	m.docs[id] = onceDoc{expires: expires, bound: bound}
	return nil
}

// Spend marks id spent, holding held, if it is there, unspent and not
// expired.
func (m *MemoryOnce) Spend(_ context.Context, id string, held []byte, until time.Time) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.docs[id]
	if !ok || d.held != nil || !clock(m.Now).Before(d.expires) {
		return "", ErrSpent
	}
	m.docs[id] = onceDoc{expires: until, bound: d.bound, held: append([]byte{}, held...)}
	return d.bound, nil
}

// Held returns what id holds and what it was bound to.
func (m *MemoryOnce) Held(_ context.Context, id string) ([]byte, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.docs[id]
	if !ok || d.held == nil || !clock(m.Now).Before(d.expires) {
		return nil, "", ErrNotHeld
	}
	return append([]byte(nil), d.held...), d.bound, nil
}

// Discard forgets id.
func (m *MemoryOnce) Discard(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.docs, id)
	return nil
}

// OnceAPI is the part of the DynamoDB client a DynamoDBOnce uses.
type OnceAPI interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

// DynamoDBOnce keeps single-use documents as items of the state table with
// its TTL attribute set, so that unspent ones, and spent ones nobody picked
// up, disappear by themselves.
type DynamoDBOnce struct {
	Client OnceAPI
	Table  string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

func epoch(t time.Time) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(t.Unix(), 10)}
}

// Issue puts the item if no item has its id.
func (d *DynamoDBOnce) Issue(ctx context.Context, id, bound string, expires time.Time) error {
	now := clock(d.Now)
	item := map[string]types.AttributeValue{
		AttrID:      &types.AttributeValueMemberS{Value: id},
		AttrExpires: epoch(expires),
		AttrUpdated: &types.AttributeValueMemberS{Value: now.UTC().Format(time.RFC3339)},
	}
	if bound != "" {
		item[AttrBound] = &types.AttributeValueMemberS{Value: bound}
	}
	_, err := d.Client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                &d.Table,
		Item:                     item,
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

// Spend updates the item on the condition that it exists, holds nothing
// yet and has not expired: one conditional write, so two concurrent
// replays cannot both pass, and an expired item the TTL has not yet
// removed does not count. The new expiry keeps what it holds until until.
// The update never names the bound attribute, and the same write returns
// it, so what the item was bound to is what Issue wrote.
func (d *DynamoDBOnce) Spend(ctx context.Context, id string, held []byte, until time.Time) (string, error) {
	now := clock(d.Now)
	out, err := d.Client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           &d.Table,
		Key:                 d.key(id),
		ConditionExpression: aws.String("attribute_exists(#id) AND attribute_not_exists(#held) AND #exp > :now"),
		UpdateExpression:    aws.String("SET #held = :held, #exp = :until, #upd = :stamp"),
		ExpressionAttributeNames: map[string]string{
			"#id": AttrID, "#held": AttrHeld, "#exp": AttrExpires, "#upd": AttrUpdated,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":now":   epoch(now),
			":held":  &types.AttributeValueMemberS{Value: string(held)},
			":until": epoch(until),
			":stamp": &types.AttributeValueMemberS{Value: now.UTC().Format(time.RFC3339)},
		},
		ReturnValues: types.ReturnValueAllNew,
	})
	if conditionFailed(err) {
		return "", ErrSpent
	}
	if err != nil {
		// The id may be derived from a secret (connect's state): never put
		// it in an error.
		return "", fmt.Errorf("spend a single-use document in table %s: %w", d.Table, err)
	}
	return boundOf(out.Attributes), nil
}

// boundOf reads an item's AttrBound; "" when absent.
func boundOf(item map[string]types.AttributeValue) string {
	if b, ok := item[AttrBound].(*types.AttributeValueMemberS); ok {
		return b.Value
	}
	return ""
}

// Held reads the item with a strongly consistent read, so that activation
// started by the callback that spent it sees what it holds.
func (d *DynamoDBOnce) Held(ctx context.Context, id string) ([]byte, string, error) {
	out, err := d.Client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &d.Table, Key: d.key(id), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, "", fmt.Errorf("read a spent document in table %s: %w", d.Table, err)
	}
	held, ok := out.Item[AttrHeld].(*types.AttributeValueMemberS)
	exp, ok2 := out.Item[AttrExpires].(*types.AttributeValueMemberN)
	if !ok || !ok2 {
		return nil, "", ErrNotHeld
	}
	// DynamoDB removes expired items some time after they expire.
	if until, err := strconv.ParseInt(exp.Value, 10, 64); err != nil || clock(d.Now).Unix() >= until {
		return nil, "", ErrNotHeld
	}
	return []byte(held.Value), boundOf(out.Item), nil
}

// Discard deletes the item.
func (d *DynamoDBOnce) Discard(ctx context.Context, id string) error {
	if _, err := d.Client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &d.Table, Key: d.key(id)}); err != nil {
		return fmt.Errorf("discard a spent document in table %s: %w", d.Table, err)
	}
	return nil
}

func (d *DynamoDBOnce) key(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{AttrID: &types.AttributeValueMemberS{Value: id}}
}
