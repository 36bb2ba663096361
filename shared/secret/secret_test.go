package secret

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// fakeSM is a Secrets Manager holding one secret's versions, counting reads.
type fakeSM struct {
	secretsmanager.Client // methods the cache never calls
	mu                    sync.Mutex
	versions              []string // oldest first; the last is AWSCURRENT, the one before AWSPREVIOUS
	reads                 int
}

func (f *fakeSM) put(v string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.versions = append(f.versions, v)
}

func (f *fakeSM) DescribeSecret(_ context.Context, in *secretsmanager.DescribeSecretInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	stages := map[string][]string{}
	n := len(f.versions)
	stages[fmt.Sprint("v", n-1)] = []string{StageCurrent}
	if n > 1 {
		stages[fmt.Sprint("v", n-2)] = []string{StagePrevious}
	}
	return &secretsmanager.DescribeSecretOutput{ARN: in.SecretId, VersionIdsToStages: stages}, nil
}

func (f *fakeSM) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	var i int
	switch {
	case in.VersionId != nil:
		fmt.Sscanf(*in.VersionId, "v%d", &i)
	case aws.ToString(in.VersionStage) == StagePrevious:
		i = len(f.versions) - 2
	default:
		i = len(f.versions) - 1
	}
	if i < 0 || i >= len(f.versions) {
		return nil, &types.ResourceNotFoundException{Message: aws.String("no such version")}
	}
	return &secretsmanager.GetSecretValueOutput{ARN: in.SecretId, VersionId: aws.String(fmt.Sprint("v", i)), SecretString: aws.String(f.versions[i])}, nil
}

func strs(vs [][]byte) []string {
	var out []string
	for _, v := range vs {
		out = append(out, string(v))
	}
	return out
}

func TestManagerRotation(t *testing.T) {
	sm := &fakeSM{versions: []string{"first"}}
	m, err := NewManager(sm, "arn:wh")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	got, err := m.Values(ctx)
	if err != nil || fmt.Sprint(strs(got)) != "[first]" {
		t.Fatalf("before rotation: %v %v", strs(got), err)
	}
	reads := sm.reads
	for range 100 {
		m.Values(ctx)
	}
	if sm.reads != reads {
		t.Fatalf("cached values re-read: %d reads", sm.reads-reads)
	}

	sm.put("second")
	if got, _ := m.Values(ctx); fmt.Sprint(strs(got)) != "[first]" {
		t.Fatalf("cache should still serve the old value: %v", strs(got))
	}
	if !m.Refresh(ctx) {
		t.Fatal("first refresh refused")
	}
	if got, _ := m.Values(ctx); fmt.Sprint(strs(got)) != "[second first]" {
		t.Fatalf("after rotation: %v, want current then previous", strs(got))
	}
	if m.Refresh(ctx) {
		t.Fatal("second refresh within MinRefreshInterval allowed")
	}
}

func TestManagerErrors(t *testing.T) {
	m, _ := NewManager(&fakeSM{}, "arn:none")
	if _, err := m.Values(context.Background()); err == nil {
		t.Fatal("no error for a secret without versions")
	}
	var rnf *types.ResourceNotFoundException
	if _, err := m.String(context.Background()); !errors.As(err, &rnf) {
		t.Fatalf("error %v does not wrap the AWS error", err)
	}
}

func TestOpen(t *testing.T) {
	src, err := Open(nil, "", "local")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := src.Values(context.Background()); fmt.Sprint(strs(got)) != "[local]" || src.Refresh(context.Background()) {
		t.Fatal("literal source")
	}
	if src, _ := Open(&fakeSM{versions: []string{"x"}}, "arn:x", ""); src == nil {
		t.Fatal("no manager for an ARN")
	} else if _, ok := src.(*Manager); !ok {
		t.Fatalf("Open with an ARN gave %T", src)
	}
}
