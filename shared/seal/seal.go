// Package seal encrypts small secrets with envelope encryption under a KMS
// key: KMS generates a data key for each sealing, the secret is encrypted
// here with AES-256-GCM under it, and only the data key, wrapped by KMS, is
// kept beside the ciphertext. Opening asks KMS to unwrap the data key.
//
// A sealing is bound to a scope (the encryption context, e.g. {"shop": id})
// twice over: KMS binds the wrapped data key to it, and the scope is also
// the AES-GCM additional authenticated data. AWS KMS alone would be enough
// (Decrypt with another context is refused), but kumo, the emulator the
// tests run against (v0.33.1), ignores the encryption context; the AAD makes
// a sealing moved to another scope fail here, in AWS and in the emulator
// alike, so the property is tested where it is enforced.
package seal

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// KMSAPI is the part of the KMS client sealing uses.
type KMSAPI interface {
	GenerateDataKey(ctx context.Context, in *kms.GenerateDataKeyInput, opts ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error)
	Decrypt(ctx context.Context, in *kms.DecryptInput, opts ...func(*kms.Options)) (*kms.DecryptOutput, error)
}

var _ KMSAPI = (*kms.Client)(nil)

// Sealed is a secret as it is stored: nothing in it is secret.
type Sealed struct {
	// Key is the data key, encrypted by KMS under the sealer's key and
	// bound to the scope.
	Key []byte
	// Nonce is AES-GCM's nonce, random for each sealing.
	Nonce []byte
	// Ciphertext is the secret encrypted with the data key, authenticated
	// with the scope.
	Ciphertext []byte
}

// Sealer seals and opens secrets under one KMS key.
type Sealer struct {
	Client KMSAPI
	// KeyID is the KMS key's id, ARN or alias.
	KeyID string
}

// ErrOpen means a sealing did not open: it was made for another scope or
// key, or was changed. It says nothing about the secret.
var ErrOpen = errors.New("seal: the sealed secret does not open in this scope")

// Seal encrypts plaintext for scope, which must be non-empty: a sealing
// with no scope could be moved anywhere.
func (s *Sealer) Seal(ctx context.Context, scope map[string]string, plaintext []byte) (Sealed, error) {
	if len(scope) == 0 {
		return Sealed{}, errors.New("seal: a sealing needs a scope")
	}
	out, err := s.Client.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{
		KeyId: &s.KeyID, KeySpec: types.DataKeySpecAes256, EncryptionContext: scope,
	})
	if err != nil {
		return Sealed{}, fmt.Errorf("seal: generate a data key under %s: %w", s.KeyID, err)
	}
	defer clear(out.Plaintext)
	aead, err := gcm(out.Plaintext)
	if err != nil {
		return Sealed{}, err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return Sealed{}, fmt.Errorf("seal: nonce: %w", err)
	}
	return Sealed{
		Key:        out.CiphertextBlob,
		Nonce:      nonce,
		Ciphertext: aead.Seal(nil, nonce, plaintext, AAD(scope)),
	}, nil
}

// Open decrypts a sealing made for scope. A sealing made for another scope
// fails with ErrOpen (or KMS's refusal, in AWS); errors never hold the
// plaintext or the data key.
func (s *Sealer) Open(ctx context.Context, scope map[string]string, sl Sealed) ([]byte, error) {
	if len(scope) == 0 {
		return nil, errors.New("seal: a sealing needs a scope")
	}
	if len(sl.Key) == 0 || len(sl.Ciphertext) == 0 {
		return nil, ErrOpen
	}
	out, err := s.Client.Decrypt(ctx, &kms.DecryptInput{
		KeyId: &s.KeyID, CiphertextBlob: sl.Key, EncryptionContext: scope,
	})
	if err != nil {
		var invalid *types.InvalidCiphertextException
		if errors.As(err, &invalid) {
			return nil, fmt.Errorf("%w (KMS refused the data key: %v)", ErrOpen, err)
		}
		return nil, fmt.Errorf("seal: unwrap the data key with %s: %w", s.KeyID, err)
	}
	defer clear(out.Plaintext)
	aead, err := gcm(out.Plaintext)
	if err != nil {
		return nil, err
	}
	if len(sl.Nonce) != aead.NonceSize() {
		return nil, ErrOpen
	}
	plain, err := aead.Open(nil, sl.Nonce, sl.Ciphertext, AAD(scope))
	if err != nil {
		return nil, ErrOpen
	}
	return plain, nil
}

func gcm(key []byte) (cipher.AEAD, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("seal: KMS returned a %d-byte data key, want 32", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	return aead, nil
}

// AAD is the additional authenticated data of a scope: its pairs sorted by
// name, each name and value length-prefixed, so that no two scopes share
// one ({"a": "b=c"} and {"a=b": "c"} differ).
func AAD(scope map[string]string) []byte {
	var b bytes.Buffer
	for _, k := range slices.Sorted(maps.Keys(scope)) {
		for _, s := range []string{k, scope[k]} {
			fmt.Fprintf(&b, "%d:%s;", len(s), s)
		}
	}
	return b.Bytes()
}
