package seal

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// scriptedKMS wraps data keys under a master key of its own and records
// the encryption context of each call. Like kumo, it ignores the context
// when unwrapping, unless strict (as AWS KMS does).
type scriptedKMS struct {
	master  cipher.AEAD
	strict  bool
	fail    error
	calls   []string
	context []map[string]string
	keyIDs  []string
}

func newScriptedKMS(t *testing.T) *scriptedKMS {
	t.Helper()
	block, _ := aes.NewCipher(bytes.Repeat([]byte{7}, 32))
	aead, _ := cipher.NewGCM(block)
	return &scriptedKMS{master: aead}
}

func (k *scriptedKMS) GenerateDataKey(_ context.Context, in *kms.GenerateDataKeyInput, _ ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error) {
	k.calls = append(k.calls, "GenerateDataKey")
	k.context = append(k.context, maps.Clone(in.EncryptionContext))
	k.keyIDs = append(k.keyIDs, *in.KeyId)
	if k.fail != nil {
		return nil, k.fail
	}
	if in.KeySpec != types.DataKeySpecAes256 {
		return nil, errors.New("want AES_256")
	}
	plain := make([]byte, 32)
	rand.Read(plain)
	nonce := make([]byte, k.master.NonceSize())
	rand.Read(nonce)
	blob := append(nonce, k.master.Seal(nil, nonce, plain, k.aad(in.EncryptionContext))...)
	return &kms.GenerateDataKeyOutput{Plaintext: plain, CiphertextBlob: blob}, nil
}

func (k *scriptedKMS) Decrypt(_ context.Context, in *kms.DecryptInput, _ ...func(*kms.Options)) (*kms.DecryptOutput, error) {
	k.calls = append(k.calls, "Decrypt")
	k.context = append(k.context, maps.Clone(in.EncryptionContext))
	k.keyIDs = append(k.keyIDs, *in.KeyId)
	if k.fail != nil {
		return nil, k.fail
	}
	n := k.master.NonceSize()
	plain, err := k.master.Open(nil, in.CiphertextBlob[:n], in.CiphertextBlob[n:], k.aad(in.EncryptionContext))
	if err != nil {
		return nil, &types.InvalidCiphertextException{Message: new("the context differs")}
	}
	return &kms.DecryptOutput{Plaintext: plain}, nil
}

func (k *scriptedKMS) aad(ec map[string]string) []byte {
	if !k.strict {
		return nil // kumo: the encryption context is ignored
	}
	return AAD(ec)
}

func TestSealSendsTheScopeToKMS(t *testing.T) {
	k := newScriptedKMS(t)
	s := &Sealer{Client: k, KeyID: "key-1"}
	ctx := context.Background()
	scope := map[string]string{"shop": "aaaaaaaaaaaaaaaa"}
	sl, err := s.Seal(ctx, scope, []byte("the secret"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sl.Ciphertext, []byte("the secret")) || bytes.Contains(sl.Key, []byte("the secret")) {
		t.Fatal("the secret is stored in the clear")
	}
	got, err := s.Open(ctx, scope, sl)
	if err != nil || string(got) != "the secret" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if len(k.calls) != 2 || k.calls[0] != "GenerateDataKey" || k.calls[1] != "Decrypt" {
		t.Fatalf("KMS calls %v", k.calls)
	}
	for i, ec := range k.context {
		if !maps.Equal(ec, scope) || k.keyIDs[i] != "key-1" {
			t.Errorf("%s sent context %v under key %q, want %v under key-1", k.calls[i], ec, k.keyIDs[i], scope)
		}
	}
}

// A sealing moved to another scope does not open, whether KMS checks the
// encryption context (AWS) or not (kumo): the scope is also the AAD.
func TestSealingDoesNotOpenInAnotherScope(t *testing.T) {
	for _, strict := range []bool{false, true} {
		k := newScriptedKMS(t)
		k.strict = strict
		s := &Sealer{Client: k, KeyID: "key-1"}
		ctx := context.Background()
		sl, err := s.Seal(ctx, map[string]string{"shop": "aaaaaaaaaaaaaaaa"}, []byte("a's secret"))
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Open(ctx, map[string]string{"shop": "bbbbbbbbbbbbbbbb"}, sl)
		if !errors.Is(err, ErrOpen) {
			t.Fatalf("strict KMS %v: opened in another scope: %q, %v", strict, got, err)
		}
		if strings.Contains(err.Error(), "a's secret") {
			t.Fatalf("the error holds the secret: %v", err)
		}
	}
}

// A changed sealing does not open, and no error says anything secret.
func TestSealRefusesTampering(t *testing.T) {
	k := newScriptedKMS(t)
	s := &Sealer{Client: k, KeyID: "key-1"}
	ctx := context.Background()
	scope := map[string]string{"shop": "aaaaaaaaaaaaaaaa"}
	sl, err := s.Seal(ctx, scope, []byte("hush"))
	if err != nil {
		t.Fatal(err)
	}
	flip := func(b []byte) []byte { c := bytes.Clone(b); c[len(c)-1] ^= 1; return c }
	for name, bad := range map[string]Sealed{
		"ciphertext":  {Key: sl.Key, Nonce: sl.Nonce, Ciphertext: flip(sl.Ciphertext)},
		"nonce":       {Key: sl.Key, Nonce: flip(sl.Nonce), Ciphertext: sl.Ciphertext},
		"short nonce": {Key: sl.Key, Nonce: sl.Nonce[:4], Ciphertext: sl.Ciphertext},
		"empty":       {},
	} {
		if got, err := s.Open(ctx, scope, bad); !errors.Is(err, ErrOpen) || got != nil {
			t.Errorf("%s: Open = %q, %v", name, got, err)
		}
	}
	if _, err := s.Open(ctx, nil, sl); err == nil {
		t.Error("opened with no scope")
	}
	if _, err := s.Seal(ctx, nil, []byte("hush")); err == nil {
		t.Error("sealed with no scope")
	}
	k.fail = errors.New("AccessDenied")
	if _, err := s.Seal(ctx, scope, []byte("hush")); err == nil || strings.Contains(err.Error(), "hush") {
		t.Errorf("Seal with KMS down: %v", err)
	}
}

func TestAADIsUnambiguous(t *testing.T) {
	if bytes.Equal(AAD(map[string]string{"a": "b=c"}), AAD(map[string]string{"a=b": "c"})) {
		t.Fatal("two scopes, one AAD")
	}
	if !bytes.Equal(AAD(map[string]string{"x": "1", "y": "2"}), AAD(map[string]string{"y": "2", "x": "1"})) {
		t.Fatal("the AAD depends on map order")
	}
}
