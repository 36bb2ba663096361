// Package shopstore tests a hub's shops table (shared/shops) against kumo:
// DynamoDB for the items, KMS for the envelope.
package shopstore

import (
	"context"
	"errors"
	"maps"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/logistos-sync/logistos-sync/local/stack"
	"github.com/logistos-sync/logistos-sync/local/stacktest"
	"github.com/logistos-sync/logistos-sync/shared/seal"
	"github.com/logistos-sync/logistos-sync/shared/shop"
	"github.com/logistos-sync/logistos-sync/shared/shops"
)

func TestMain(m *testing.M) { os.Exit(stacktest.RunTests(m)) }

// recordingKMS counts the calls that reach KMS and the encryption context
// each carried; fail makes them fail.
type recordingKMS struct {
	next seal.KMSAPI
	mu   sync.Mutex
	fail error
	log  []kmsCall
}

type kmsCall struct {
	op      string
	context map[string]string
}

func (k *recordingKMS) GenerateDataKey(ctx context.Context, in *kms.GenerateDataKeyInput, o ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error) {
	if err := k.note("GenerateDataKey", in.EncryptionContext); err != nil {
		return nil, err
	}
	return k.next.GenerateDataKey(ctx, in, o...)
}

func (k *recordingKMS) Decrypt(ctx context.Context, in *kms.DecryptInput, o ...func(*kms.Options)) (*kms.DecryptOutput, error) {
	if err := k.note("Decrypt", in.EncryptionContext); err != nil {
		return nil, err
	}
	return k.next.Decrypt(ctx, in, o...)
}

func (k *recordingKMS) note(op string, ec map[string]string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.log = append(k.log, kmsCall{op, maps.Clone(ec)})
	return k.fail
}

func (k *recordingKMS) calls() []kmsCall {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]kmsCall(nil), k.log...)
}

// env is a shops table and key of one test's own.
type env struct {
	st    *stack.Stack
	table string
	key   string
	kms   *recordingKMS
}

func newEnv(t *testing.T) *env {
	t.Helper()
	st := stacktest.ForTest(t, stack.Options{})
	ctx := context.Background()
	e := &env{st: st, table: stack.ShopsTableName + "-" + t.Name(), kms: &recordingKMS{next: st.KMS}}
	if err := st.EnsureShopsTable(ctx, e.table); err != nil {
		t.Fatal(err)
	}
	var err error
	if e.key, err = st.CreateShopsKey(ctx); err != nil {
		t.Fatal(err)
	}
	return e
}

// store is a new store on the env's table, as a cold container has.
func (e *env) store() *shops.DynamoDB { return shops.New(e.st.DynamoDB, e.kms, e.table, e.key) }

func newShop(t *testing.T, s shop.Store, url string, sec shop.Secrets) shop.Shop {
	t.Helper()
	n, err := shop.Normalize(url)
	if err != nil {
		t.Fatal(err)
	}
	sh := shop.Shop{ID: shop.ID(n), URL: n, Status: shop.Connected,
		ConnectedAt: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC), UpdatedAt: time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)}
	ctx := context.Background()
	if err := s.Put(ctx, sh); err != nil {
		t.Fatal(err)
	}
	if err := s.SetSecrets(ctx, sh.ID, sec); err != nil {
		t.Fatal(err)
	}
	return sh
}

var secretsA = shop.Secrets{WebhookSecret: "whsec-of-a", ConsumerKey: "ck_a", ConsumerSecret: "cs_a"}
var secretsB = shop.Secrets{WebhookSecret: "whsec-of-b", ConsumerKey: "ck_b", ConsumerSecret: "cs_b"}

func TestRoundTrip(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	s := e.store()
	a := newShop(t, s, "https://a.example", secretsA)

	cold := e.store()
	if got, err := cold.Get(ctx, a.ID); err != nil || got != a {
		t.Fatalf("Get = %+v, %v; want %+v", got, err, a)
	}
	if got, err := cold.Secrets(ctx, a.ID); err != nil || got != secretsA {
		t.Fatalf("Secrets = %+v, %v", got, err)
	}
	// Put replaces the record and keeps the secrets.
	a.Status, a.ConnectedAt = shop.Disconnected, time.Time{}
	if err := s.Put(ctx, a); err != nil {
		t.Fatal(err)
	}
	cold = e.store()
	if got, _ := cold.Get(ctx, a.ID); got != a {
		t.Fatalf("after Put: %+v", got)
	}
	if got, err := cold.Secrets(ctx, a.ID); err != nil || got != secretsA {
		t.Fatalf("Put dropped the secrets: %+v, %v", got, err)
	}
	if l, err := cold.List(ctx); err != nil || len(l) != 1 || l[0] != a {
		t.Fatalf("List = %+v, %v", l, err)
	}

	// Nothing of the secrets is in the item in the clear.
	raw, err := e.st.DynamoDB.GetItem(ctx, &dynamodb.GetItemInput{TableName: &e.table, Key: idKey(a.ID)})
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range raw.Item {
		var text string
		switch v := v.(type) {
		case *types.AttributeValueMemberS:
			text = v.Value
		case *types.AttributeValueMemberB:
			text = string(v.Value)
		}
		for _, secret := range []string{secretsA.WebhookSecret, secretsA.ConsumerKey, secretsA.ConsumerSecret} {
			if strings.Contains(text, secret) {
				t.Errorf("attribute %s holds a secret in the clear", name)
			}
		}
	}

	unknown := shop.ID("https://nobody.example")
	if _, err := cold.Get(ctx, unknown); !errors.Is(err, shop.ErrNotFound) {
		t.Errorf("Get of no shop: %v", err)
	}
	if _, err := cold.Secrets(ctx, unknown); !errors.Is(err, shop.ErrNotFound) {
		t.Errorf("Secrets of no shop: %v", err)
	}
	if err := cold.SetSecrets(ctx, unknown, secretsB); !errors.Is(err, shop.ErrNotFound) {
		t.Errorf("SetSecrets of no shop: %v", err)
	}
	if _, err := cold.Get(ctx, unknown); !errors.Is(err, shop.ErrNotFound) {
		t.Errorf("SetSecrets created a shop: %v", err)
	}
	// A shop pending its secrets has none.
	p := shop.Shop{ID: shop.ID("https://pending.example"), URL: "https://pending.example", Status: shop.Pending}
	if err := s.Put(ctx, p); err != nil {
		t.Fatal(err)
	}
	if got, err := cold.Secrets(ctx, p.ID); err != nil || got != (shop.Secrets{}) {
		t.Errorf("Secrets of a pending shop = %+v, %v", got, err)
	}
}

func idKey(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{shops.AttrID: &types.AttributeValueMemberS{Value: id}}
}

// A's sealed secrets copied into B's item do not decrypt as B's: kumo's KMS
// ignores the encryption context, so this holds only through the AAD.
func TestSecretsMovedToAnotherShopDoNotOpen(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	s := e.store()
	a := newShop(t, s, "https://a.example", secretsA)
	b := newShop(t, s, "https://b.example", secretsB)

	raw, err := e.st.DynamoDB.GetItem(ctx, &dynamodb.GetItemInput{TableName: &e.table, Key: idKey(a.ID)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.st.DynamoDB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: &e.table, Key: idKey(b.ID),
		UpdateExpression:         new("SET #k = :k, #n = :n, #s = :s"),
		ExpressionAttributeNames: map[string]string{"#k": shops.AttrSecretsKey, "#n": shops.AttrNonce, "#s": shops.AttrSecrets},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":k": raw.Item[shops.AttrSecretsKey], ":n": raw.Item[shops.AttrNonce], ":s": raw.Item[shops.AttrSecrets],
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.store().Secrets(ctx, b.ID)
	if err == nil {
		t.Fatalf("B's item with A's sealing decrypted as B's secrets: %+v", got)
	}
	if !errors.Is(err, seal.ErrOpen) {
		t.Errorf("error %v, want seal.ErrOpen", err)
	}
	for _, secret := range []string{secretsA.WebhookSecret, secretsA.ConsumerSecret, secretsB.WebhookSecret} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("the error holds a secret: %v", err)
		}
	}
	// A's own item still opens.
	if got, err := e.store().Secrets(ctx, a.ID); err != nil || got != secretsA {
		t.Fatalf("A's secrets: %+v, %v", got, err)
	}
}

// Every call to KMS carries the shop's id as the encryption context
// {"shop": id}, which the template's key policy conditions rely on.
func TestEncryptionContextIsTheShop(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a := newShop(t, e.store(), "https://a.example", secretsA)
	if _, err := e.store().Secrets(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	calls := e.kms.calls()
	if len(calls) != 2 || calls[0].op != "GenerateDataKey" || calls[1].op != "Decrypt" {
		t.Fatalf("KMS calls %+v", calls)
	}
	for _, c := range calls {
		if !maps.Equal(c.context, map[string]string{"shop": a.ID}) {
			t.Errorf("%s carried %v", c.op, c.context)
		}
	}
}

// A warm container decrypts a shop's secrets once per SecretsTTL; Refresh
// makes the next read decrypt again, at most once per MinRefreshInterval,
// so that a reconnected shop's new webhook secret is picked up at once and
// bad signatures cannot force a KMS call each.
func TestSecretsCache(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a := newShop(t, e.store(), "https://a.example", secretsA)
	s := e.store()
	now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	s.Now = func() time.Time { return now }
	decrypts := func() int {
		n := 0
		for _, c := range e.kms.calls() {
			if c.op == "Decrypt" {
				n++
			}
		}
		return n
	}
	read := func(want shop.Secrets) {
		t.Helper()
		if got, err := s.Secrets(ctx, a.ID); err != nil || got != want {
			t.Fatalf("Secrets = %+v, %v; want %+v", got, err, want)
		}
	}
	read(secretsA)
	read(secretsA)
	if n := decrypts(); n != 1 {
		t.Fatalf("%d decrypts for two reads, want 1 (the warm read must not call KMS)", n)
	}
	now = now.Add(shops.SecretsTTL - time.Second)
	read(secretsA)
	if n := decrypts(); n != 1 {
		t.Fatalf("a read within SecretsTTL decrypted")
	}
	now = now.Add(2 * time.Second)
	read(secretsA)
	if n := decrypts(); n != 2 {
		t.Fatalf("a read after SecretsTTL did not decrypt (%d)", n)
	}

	// The shop reconnects elsewhere (connect's container): a new secret.
	rotated := shop.Secrets{WebhookSecret: "whsec-of-a-2", ConsumerKey: "ck_a2", ConsumerSecret: "cs_a2"}
	if err := e.store().SetSecrets(ctx, a.ID, rotated); err != nil {
		t.Fatal(err)
	}
	read(secretsA) // still cached here
	if !s.Refresh(a.ID) {
		t.Fatal("the first Refresh was refused")
	}
	read(rotated)
	base := decrypts()
	for range 100 { // a stranger's bad signatures
		if s.Refresh(a.ID) {
			t.Fatal("a second Refresh within MinRefreshInterval")
		}
		read(rotated)
	}
	if n := decrypts(); n != base {
		t.Fatalf("bad signatures cost %d KMS calls", n-base)
	}
	now = now.Add(shops.MinRefreshInterval)
	if !s.Refresh(a.ID) {
		t.Fatal("Refresh refused after MinRefreshInterval")
	}
	// Another shop's refresh is its own.
	if !s.Refresh(shop.ID("https://b.example")) {
		t.Fatal("one shop's Refresh held back another's")
	}
}

// Errors name the shop and the step, never a secret, when KMS fails.
func TestNothingSecretInErrors(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a := newShop(t, e.store(), "https://a.example", secretsA)
	e.kms.fail = errors.New("AccessDeniedException: not allowed")
	_, errRead := e.store().Secrets(ctx, a.ID)
	errWrite := e.store().SetSecrets(ctx, a.ID, secretsB)
	for _, err := range []error{errRead, errWrite} {
		if err == nil {
			t.Fatal("KMS failed and the store did not say so")
		}
		for _, secret := range []string{secretsA.WebhookSecret, secretsA.ConsumerKey, secretsA.ConsumerSecret, secretsB.WebhookSecret, secretsB.ConsumerSecret} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error holds a secret: %v", err)
			}
		}
		if !strings.Contains(err.Error(), a.ID) {
			t.Errorf("error does not name the shop: %v", err)
		}
	}
}

// Open keeps the shops in memory when no table is configured (local runs).
func TestOpen(t *testing.T) {
	if _, ok := shops.Open(nil, nil, "", "").(*shop.Memory); !ok {
		t.Error("Open without a table is not the memory store")
	}
	if _, ok := shops.Open(nil, nil, "t", "k").(*shops.DynamoDB); !ok {
		t.Error("Open with a table is not the DynamoDB store")
	}
}
