package wookey

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/logistos-sync/logistos-sync/shared/secret"
	"github.com/logistos-sync/logistos-sync/shared/wooapi"
)

type putter struct {
	in  *secretsmanager.PutSecretValueInput
	err error
}

func (p *putter) PutSecretValue(_ context.Context, in *secretsmanager.PutSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	p.in = in
	return &secretsmanager.PutSecretValueOutput{}, p.err
}

// What activation writes is what activate and reconcile read, as the
// version it names.
func TestWriterWritesWhatSecretReads(t *testing.T) {
	p := &putter{}
	k := wooapi.Key{ConsumerKey: "ck_abc", ConsumerSecret: "cs_def"}
	ref := Ref("a state")
	if err := (Writer{Client: p, ARN: "arn:woo"}).Put(context.Background(), k, ref); err != nil || *p.in.SecretId != "arn:woo" {
		t.Fatal(err)
	}
	if p.in.ClientRequestToken == nil || *p.in.ClientRequestToken != ref {
		t.Errorf("version %v, want the reference %s (a retried write stores nothing new)", p.in.ClientRequestToken, ref)
	}
	got, err := Secret{Source: secret.Literal(*p.in.SecretString)}.Key(context.Background(), false)
	if err != nil || got != k {
		t.Fatalf("%+v %v", got, err)
	}
	p.err = errors.New("AccessDenied")
	if err := (Writer{Client: p, ARN: "arn:woo"}).Put(context.Background(), k, ref); err == nil || strings.Contains(err.Error(), "cs_def") {
		t.Errorf("error %v", err)
	}
}

func TestConnectURL(t *testing.T) {
	got := ConnectURL("https://abc.execute-api.eu-west-1.amazonaws.com/woocommerce/webhook")
	if got != "https://abc.execute-api.eu-west-1.amazonaws.com/woocommerce/connect" {
		t.Error(got)
	}
}
