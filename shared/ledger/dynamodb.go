package ledger

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"
)

// Attribute names of a ledger item. A single-shop stack's table is keyed by
// AttrOrderID alone (a number); a hub's by AttrShop (the shop's id, the
// partition key) and AttrOrderID (the sort key). AttrExpires is the TTL.
const (
	AttrShop     = "shop"
	AttrOrderID  = "order_id"
	AttrModified = "modified"
	AttrOrigin   = "origin"
	AttrReceived = "received_at"
	AttrExpires  = "expires_at"
)

// DynamoDB's batch limits.
const (
	// MaxWriteBatch is BatchWriteItem's limit on items per call.
	MaxWriteBatch = 25
	// MaxReadBatch is BatchGetItem's limit on keys per call.
	MaxReadBatch = 100
	// concurrency is how many batch calls a Put or a Get makes at once: a
	// window of 10,000 orders is 100 BatchGetItem calls, which one after
	// the other would take longer than listing the window from the shop.
	concurrency = 4
	// batchRetries bounds how often unprocessed items (throttling) are
	// sent again before giving up.
	batchRetries = 5
)

// DynamoDBAPI is the part of the DynamoDB client the ledger uses.
type DynamoDBAPI interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
}

// DynamoDB is a Store in a DynamoDB table (partition key "order_id", N; TTL
// on "expires_at"), or one shop's part of a hub's table (For).
type DynamoDB struct {
	Client DynamoDBAPI
	Table  string
	// Shop is the id of the shop whose entries these are in a hub's table
	// (keyed by shop and order id); "" in a single-shop stack's.
	Shop string
	// RetryDelay is the wait before resending unprocessed items, given the
	// retry's number; nil means 50 ms doubling. Tests set it to not sleep.
	RetryDelay func(retry int) time.Duration
}

// Open returns the ledger in table, or one in memory when table is empty
// (local runs).
func Open(client DynamoDBAPI, table string) Store {
	if table == "" {
		return &Memory{}
	}
	return &DynamoDB{Client: client, Table: table}
}

// itemValues holds the attribute values of one item, so that they cost
// one allocation rather than one each: the webhook writes an item per
// delivery.
type itemValues struct {
	id, expires                      types.AttributeValueMemberN
	shop, origin, received, modified types.AttributeValueMemberS
}

func (d *DynamoDB) item(e Entry) map[string]types.AttributeValue {
	v := &itemValues{
		id:       types.AttributeValueMemberN{Value: strconv.FormatInt(e.OrderID, 10)},
		expires:  types.AttributeValueMemberN{Value: strconv.FormatInt(e.ReceivedAt.Add(TTL).Unix(), 10)},
		origin:   types.AttributeValueMemberS{Value: e.Origin},
		received: types.AttributeValueMemberS{Value: e.ReceivedAt.UTC().Format(time.RFC3339)},
		modified: types.AttributeValueMemberS{Value: e.Modified},
	}
	it := make(map[string]types.AttributeValue, 6)
	it[AttrOrderID], it[AttrExpires], it[AttrOrigin], it[AttrReceived] = &v.id, &v.expires, &v.origin, &v.received
	if e.Modified != "" {
		it[AttrModified] = &v.modified
	}
	if d.Shop != "" {
		v.shop.Value = d.Shop
		it[AttrShop] = &v.shop
	}
	return it
}

// key is the item key of an order's entry.
func (d *DynamoDB) key(id int64) map[string]types.AttributeValue {
	k := map[string]types.AttributeValue{AttrOrderID: &types.AttributeValueMemberN{Value: strconv.FormatInt(id, 10)}}
	if d.Shop != "" {
		k[AttrShop] = &types.AttributeValueMemberS{Value: d.Shop}
	}
	return k
}

// For returns shop's part of a hub's ledger.
func (d *DynamoDB) For(shop string) Store {
	c := *d
	c.Shop = shop
	return &c
}

func (d *DynamoDB) wait(ctx context.Context, retry int) error {
	delay := 50 * time.Millisecond << (retry - 1)
	if d.RetryDelay != nil {
		delay = d.RetryDelay(retry)
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(delay):
		return nil
	}
}

// Put writes one entry with PutItem (the webhook's one call per order) and
// more with BatchWriteItem, 25 at a time and concurrency calls at once.
func (d *DynamoDB) Put(ctx context.Context, es []Entry) error {
	if len(es) == 1 {
		if _, err := d.Client.PutItem(ctx, &dynamodb.PutItemInput{TableName: &d.Table, Item: d.item(es[0])}); err != nil {
			return fmt.Errorf("ledger: record order %d in table %s: %w", es[0].OrderID, d.Table, err)
		}
		return nil
	}
	// One request per order id, its last entry: BatchWriteItem refuses
	// duplicate keys, and the calls run at once, so no later call could
	// be counted on to overwrite an earlier one.
	last := make(map[int64]int, len(es))
	for i, e := range es {
		last[e.OrderID] = i
	}
	var chunks [][]types.WriteRequest
	var reqs []types.WriteRequest
	for i, e := range es {
		if last[e.OrderID] != i {
			continue
		}
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: d.item(e)}})
		if len(reqs) == MaxWriteBatch {
			chunks, reqs = append(chunks, reqs), nil
		}
	}
	if len(reqs) > 0 {
		chunks = append(chunks, reqs)
	}
	// Reconcile records what it recovered 100 orders at a time: four
	// calls, made at once as Get's are.
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency)
	for _, reqs := range chunks {
		g.Go(func() error { return d.write(ctx, reqs) })
	}
	return g.Wait()
}

func (d *DynamoDB) write(ctx context.Context, reqs []types.WriteRequest) error {
	for retry := 0; ; retry++ {
		out, err := d.Client.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{
			RequestItems: map[string][]types.WriteRequest{d.Table: reqs},
		})
		if err != nil {
			return fmt.Errorf("ledger: record %d orders in table %s: %w", len(reqs), d.Table, err)
		}
		reqs = out.UnprocessedItems[d.Table]
		if len(reqs) == 0 {
			return nil
		}
		if retry == batchRetries {
			return fmt.Errorf("ledger: table %s left %d orders unrecorded after %d attempts", d.Table, len(reqs), retry+1)
		}
		if err := d.wait(ctx, retry+1); err != nil {
			return errors.Join(fmt.Errorf("ledger: %d orders unrecorded", len(reqs)), err)
		}
	}
}

// Get reads the entries of ids with BatchGetItem, 100 keys at a time and
// concurrency calls at once, with eventually consistent reads: an entry
// written a second ago and not yet seen costs one duplicate, and reads cost
// half.
func (d *DynamoDB) Get(ctx context.Context, ids []int64) (map[int64]Entry, error) {
	seen := make(map[int64]bool, len(ids))
	var chunks [][]map[string]types.AttributeValue
	var keys []map[string]types.AttributeValue
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		keys = append(keys, d.key(id))
		if len(keys) == MaxReadBatch {
			chunks, keys = append(chunks, keys), nil
		}
	}
	if len(keys) > 0 {
		chunks = append(chunks, keys)
	}
	out := make(map[int64]Entry, len(ids))
	var mu sync.Mutex
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency)
	for _, chunk := range chunks {
		g.Go(func() error {
			got := make(map[int64]Entry, len(chunk))
			if err := d.read(ctx, chunk, got); err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			maps.Copy(out, got)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

func (d *DynamoDB) read(ctx context.Context, keys []map[string]types.AttributeValue, out map[int64]Entry) error {
	projection := "#id, #m, #o, #r"
	names := map[string]string{"#id": AttrOrderID, "#m": AttrModified, "#o": AttrOrigin, "#r": AttrReceived}
	for retry := 0; ; retry++ {
		res, err := d.Client.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{
			RequestItems: map[string]types.KeysAndAttributes{d.Table: {
				Keys: keys, ProjectionExpression: &projection, ExpressionAttributeNames: names,
			}},
		})
		if err != nil {
			return fmt.Errorf("ledger: look up %d orders in table %s: %w", len(keys), d.Table, err)
		}
		for _, it := range res.Responses[d.Table] {
			e, err := entryOf(it)
			if err != nil {
				return fmt.Errorf("ledger: table %s: %w", d.Table, err)
			}
			out[e.OrderID] = e
		}
		keys = res.UnprocessedKeys[d.Table].Keys
		if len(keys) == 0 {
			return nil
		}
		if retry == batchRetries {
			return fmt.Errorf("ledger: table %s left %d lookups unprocessed after %d attempts", d.Table, len(keys), retry+1)
		}
		if err := d.wait(ctx, retry+1); err != nil {
			return err
		}
	}
}

func entryOf(it map[string]types.AttributeValue) (Entry, error) {
	n, ok := it[AttrOrderID].(*types.AttributeValueMemberN)
	if !ok {
		return Entry{}, errors.New("an item lacks " + AttrOrderID)
	}
	id, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil {
		return Entry{}, fmt.Errorf("bad %s %q", AttrOrderID, n.Value)
	}
	e := Entry{OrderID: id}
	if s, ok := it[AttrModified].(*types.AttributeValueMemberS); ok {
		e.Modified = s.Value
	}
	if s, ok := it[AttrOrigin].(*types.AttributeValueMemberS); ok {
		e.Origin = s.Value
	}
	if s, ok := it[AttrReceived].(*types.AttributeValueMemberS); ok {
		e.ReceivedAt, _ = time.Parse(time.RFC3339, s.Value)
	}
	return e, nil
}

// ensure the SDK client satisfies DynamoDBAPI.
var _ DynamoDBAPI = (*dynamodb.Client)(nil)

// QueryAPI is the part of the DynamoDB client Latest uses.
type QueryAPI interface {
	Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

// Latest returns the entry of shop's highest order id in a hub's ledger
// table: its newest order, for the operator's view of the shop. ok is false
// when the shop has none (none kept: TTL).
func Latest(ctx context.Context, client QueryAPI, table, shop string) (e Entry, ok bool, err error) {
	cond := "#s = :s"
	res, err := client.Query(ctx, &dynamodb.QueryInput{
		TableName: &table, KeyConditionExpression: &cond, ScanIndexForward: aws.Bool(false), Limit: aws.Int32(1),
		ExpressionAttributeNames:  map[string]string{"#s": AttrShop},
		ExpressionAttributeValues: map[string]types.AttributeValue{":s": &types.AttributeValueMemberS{Value: shop}},
	})
	if err != nil {
		return Entry{}, false, fmt.Errorf("ledger: newest order of shop %s in table %s: %w", shop, table, err)
	}
	if len(res.Items) == 0 {
		return Entry{}, false, nil
	}
	e, err = entryOf(res.Items[0])
	return e, err == nil, err
}
