// Package shops keeps a hub's shops in a DynamoDB table (SHOPS_TABLE), their
// secrets sealed under a KMS key (SHOPS_KEY_ID) with the shop's id in the
// scope, so that a sealing copied into another shop's item does not open
// (package seal).
//
// It is apart from package shop, the domain, so that a binary that only
// names shops (the forwarder takes the shop from each message) links
// neither the DynamoDB nor the KMS client.
package shops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/logistos-sync/logistos-sync/shared/seal"
	"github.com/logistos-sync/logistos-sync/shared/shop"
)

// Attribute names of a shop's item; AttrID is the partition key (S). The
// secrets attributes hold a seal.Sealed: nothing in the item is secret.
const (
	AttrID          = "id"
	AttrURL         = "url"
	AttrStatus      = "status"
	AttrConnectedAt = "connected_at"
	AttrUpdatedAt   = "updated_at"
	AttrSecretsKey  = "secrets_key"
	AttrNonce       = "secrets_nonce"
	AttrSecrets     = "secrets"
)

// ScopeKey is the name of the shop's id in the sealing's scope (the KMS
// encryption context), which the template's IAM policy names too.
const ScopeKey = "shop"

const (
	// SecretsTTL is how long a warm container keeps a shop's decrypted
	// secrets: a KMS call per delivery would cost more than the rest of
	// the webhook, and a rotation is picked up sooner through Refresh.
	SecretsTTL = 5 * time.Minute
	// MinRefreshInterval bounds how often Refresh drops one shop's cached
	// secrets, so that deliveries with bad signatures (anyone can send
	// them) cost at most one KMS call per shop in that time.
	MinRefreshInterval = 30 * time.Second
)

// DynamoDBAPI is the part of the DynamoDB client the store uses.
type DynamoDBAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, opts ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

var _ DynamoDBAPI = (*dynamodb.Client)(nil)

// DynamoDB is a shop.Store in a DynamoDB table. Build it with New or Open;
// it is safe for concurrent use.
type DynamoDB struct {
	client DynamoDBAPI
	table  string
	sealer *seal.Sealer
	// Now is the clock of the secrets cache (time.Now); tests move it.
	Now func() time.Time

	mu        sync.Mutex
	cache     map[string]cached
	refreshed map[string]time.Time
}

type cached struct {
	sec shop.Secrets
	at  time.Time
}

// New returns the store in table, its secrets sealed under the KMS key
// keyID.
func New(db DynamoDBAPI, kms seal.KMSAPI, table, keyID string) *DynamoDB {
	return &DynamoDB{
		client: db, table: table, sealer: &seal.Sealer{Client: kms, KeyID: keyID}, Now: time.Now,
		cache: map[string]cached{}, refreshed: map[string]time.Time{},
	}
}

// Open returns the store in table, or one in memory when table is empty
// (local runs), as ledger.Open does.
func Open(db DynamoDBAPI, kms seal.KMSAPI, table, keyID string) shop.Store {
	if table == "" {
		return shop.NewMemory()
	}
	return New(db, kms, table, keyID)
}

var _ shop.Refresher = (*DynamoDB)(nil)

func scope(id string) map[string]string { return map[string]string{ScopeKey: id} }

func key(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{AttrID: &types.AttributeValueMemberS{Value: id}}
}

// recordProjection reads a shop's record without its secrets.
var (
	recordProjection = "#id, #url, #st, #ca, #ua"
	recordNames      = map[string]string{"#id": AttrID, "#url": AttrURL, "#st": AttrStatus, "#ca": AttrConnectedAt, "#ua": AttrUpdatedAt}
)

// Get returns the shop with that id, or shop.ErrNotFound. It is not
// cached: a shop disconnected a moment ago is refused at once.
func (d *DynamoDB) Get(ctx context.Context, id string) (shop.Shop, error) {
	out, err := d.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &d.table, Key: key(id),
		ProjectionExpression: &recordProjection, ExpressionAttributeNames: recordNames,
	})
	if err != nil {
		return shop.Shop{}, fmt.Errorf("shops: read shop %s from table %s: %w", id, d.table, err)
	}
	if out.Item == nil {
		return shop.Shop{}, shop.ErrNotFound
	}
	return record(out.Item)
}

// Put creates or replaces the shop's record, leaving its secrets as they
// are (an UpdateItem, never a PutItem, which would drop them).
func (d *DynamoDB) Put(ctx context.Context, s shop.Shop) error {
	if !shop.ValidID(s.ID) {
		return fmt.Errorf("shops: %q is not a shop id", s.ID)
	}
	names := map[string]string{"#url": AttrURL, "#st": AttrStatus, "#ua": AttrUpdatedAt, "#ca": AttrConnectedAt}
	values := map[string]types.AttributeValue{
		":url": &types.AttributeValueMemberS{Value: s.URL},
		":st":  &types.AttributeValueMemberS{Value: string(s.Status)},
		":ua":  &types.AttributeValueMemberS{Value: timeString(s.UpdatedAt)},
	}
	update := "SET #url = :url, #st = :st, #ua = :ua"
	if s.ConnectedAt.IsZero() {
		update += " REMOVE #ca"
	} else {
		update += ", #ca = :ca"
		values[":ca"] = &types.AttributeValueMemberS{Value: timeString(s.ConnectedAt)}
	}
	_, err := d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &d.table, Key: key(s.ID), UpdateExpression: &update,
		ExpressionAttributeNames: names, ExpressionAttributeValues: values,
	})
	if err != nil {
		return fmt.Errorf("shops: write shop %s to table %s: %w", s.ID, d.table, err)
	}
	return nil
}

// Secrets returns the shop's secrets, or shop.ErrNotFound: from this
// container's cache while it is younger than SecretsTTL, else read and
// decrypted (one GetItem, one KMS Decrypt). A shop with no secrets yet has
// the zero Secrets.
func (d *DynamoDB) Secrets(ctx context.Context, id string) (shop.Secrets, error) {
	d.mu.Lock()
	c, ok := d.cache[id]
	d.mu.Unlock()
	if ok && d.Now().Sub(c.at) < SecretsTTL {
		return c.sec, nil
	}
	sec, err := d.read(ctx, id)
	if err != nil {
		return shop.Secrets{}, err
	}
	d.remember(id, sec)
	return sec, nil
}

func (d *DynamoDB) read(ctx context.Context, id string) (shop.Secrets, error) {
	projection := "#id, #k, #n, #s"
	out, err := d.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: &d.table, Key: key(id), ConsistentRead: aws.Bool(true),
		ProjectionExpression:     &projection,
		ExpressionAttributeNames: map[string]string{"#id": AttrID, "#k": AttrSecretsKey, "#n": AttrNonce, "#s": AttrSecrets},
	})
	if err != nil {
		return shop.Secrets{}, fmt.Errorf("shops: read the secrets of shop %s from table %s: %w", id, d.table, err)
	}
	if out.Item == nil {
		return shop.Secrets{}, shop.ErrNotFound
	}
	sl := seal.Sealed{Key: bytesOf(out.Item[AttrSecretsKey]), Nonce: bytesOf(out.Item[AttrNonce]), Ciphertext: bytesOf(out.Item[AttrSecrets])}
	if sl.Key == nil && sl.Nonce == nil && sl.Ciphertext == nil {
		return shop.Secrets{}, nil
	}
	plain, err := d.sealer.Open(ctx, scope(id), sl)
	if err != nil {
		return shop.Secrets{}, fmt.Errorf("shops: the secrets of shop %s: %w", id, err)
	}
	defer clear(plain)
	var sec shop.Secrets
	if err := json.Unmarshal(plain, &sec); err != nil {
		// Not the decoder's message: it could quote the plaintext.
		return shop.Secrets{}, fmt.Errorf("shops: the secrets of shop %s are not a JSON document", id)
	}
	return sec, nil
}

// SetSecrets seals the shop's secrets (a new data key each time) and
// replaces them in its item; the shop must exist (shop.ErrNotFound).
func (d *DynamoDB) SetSecrets(ctx context.Context, id string, sec shop.Secrets) error {
	plain, err := json.Marshal(sec)
	if err != nil {
		return fmt.Errorf("shops: encode the secrets of shop %s", id)
	}
	defer clear(plain)
	sl, err := d.sealer.Seal(ctx, scope(id), plain)
	if err != nil {
		return fmt.Errorf("shops: the secrets of shop %s: %w", id, err)
	}
	update := "SET #k = :k, #n = :n, #s = :s"
	cond := "attribute_exists(#id)"
	_, err = d.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &d.table, Key: key(id), UpdateExpression: &update, ConditionExpression: &cond,
		ExpressionAttributeNames: map[string]string{"#id": AttrID, "#k": AttrSecretsKey, "#n": AttrNonce, "#s": AttrSecrets},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":k": &types.AttributeValueMemberB{Value: sl.Key},
			":n": &types.AttributeValueMemberB{Value: sl.Nonce},
			":s": &types.AttributeValueMemberB{Value: sl.Ciphertext},
		},
	})
	var failed *types.ConditionalCheckFailedException
	if errors.As(err, &failed) {
		return shop.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("shops: write the secrets of shop %s to table %s: %w", id, d.table, err)
	}
	d.remember(id, sec)
	return nil
}

// Refresh drops the shop's cached secrets, so that the next Secrets reads
// them again, unless it did so less than MinRefreshInterval ago; it
// reports whether it did. A delivery whose signature does not match calls
// it: the shop may have reconnected with a new webhook secret while this
// container held the old one.
func (d *DynamoDB) Refresh(id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.Now()
	if last, ok := d.refreshed[id]; ok && now.Sub(last) < MinRefreshInterval {
		return false
	}
	d.refreshed[id] = now
	delete(d.cache, id)
	return true
}

func (d *DynamoDB) remember(id string, sec shop.Secrets) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.cache[id] = cached{sec: sec, at: d.Now()}
}

// List returns every shop, without reading a secret.
func (d *DynamoDB) List(ctx context.Context) ([]shop.Shop, error) {
	var out []shop.Shop
	p := dynamodb.NewScanPaginator(d.client, &dynamodb.ScanInput{
		TableName: &d.table, ProjectionExpression: &recordProjection, ExpressionAttributeNames: recordNames,
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("shops: list table %s: %w", d.table, err)
		}
		for _, it := range page.Items {
			s, err := record(it)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
	}
	return out, nil
}

func record(it map[string]types.AttributeValue) (shop.Shop, error) {
	s := shop.Shop{ID: stringOf(it[AttrID]), URL: stringOf(it[AttrURL]), Status: shop.Status(stringOf(it[AttrStatus]))}
	if s.ID == "" {
		return shop.Shop{}, errors.New("shops: an item lacks " + AttrID)
	}
	s.ConnectedAt, _ = time.Parse(time.RFC3339Nano, stringOf(it[AttrConnectedAt]))
	s.UpdatedAt, _ = time.Parse(time.RFC3339Nano, stringOf(it[AttrUpdatedAt]))
	return s, nil
}

func timeString(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func stringOf(v types.AttributeValue) string {
	if s, ok := v.(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

func bytesOf(v types.AttributeValue) []byte {
	if b, ok := v.(*types.AttributeValueMemberB); ok {
		return b.Value
	}
	return nil
}
