// Package stacktest shares one local stack among the tests of a package.
// It imports testing, so it is kept apart from package stack, which `make
// run` links.
package stacktest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync/atomic"
	"testing"
	"time"

	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/logistos-sync/logistos-sync/local/stack"
)

// Shared is the one emulator of a test process, started by RunTests.
var Shared *stack.Stack

var forks atomic.Int64

// RunTests starts the one emulator of a test process, runs the tests and
// stops it; call it from TestMain. kumo keeps its state per process and two
// of its servers cannot start at once, so tests share one and take queues
// of their own with ForTest.
func RunTests(m *testing.M) int {
	var err error
	if Shared, err = stack.Start(context.Background(), stack.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, "start kumo:", err)
		return 1
	}
	defer Shared.Close()
	return m.Run()
}

// ForTest gives a test queues and a webhook secret of its own on Shared,
// shaped by o; the names' suffix is chosen here.
func ForTest(t testing.TB, o stack.Options) *stack.Stack {
	t.Helper()
	o.Suffix = fmt.Sprintf("-t%d", forks.Add(1))
	s, err := Shared.Fork(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// RegisterFunction creates a Lambda function in kumo whose invocations go
// to endpoint (kumo's InvokeEndpoint extension, sent as raw JSON).
func RegisterFunction(t testing.TB, name, endpoint string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{
		"FunctionName": name, "Runtime": "provided.al2023", "Role": "arn:aws:iam::000000000000:role/activate",
		"Handler": "bootstrap", "Timeout": 900, "Code": map[string]string{"ZipFile": ""}, "InvokeEndpoint": endpoint,
	})
	// Signed like the SDK's requests: kumo routes by the signature's service.
	req, _ := http.NewRequest(http.MethodPost, Shared.Endpoint+"/2015-03-31/functions", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	creds, err := Shared.AWS.Credentials.Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), "lambda", Shared.AWS.Region, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("create function: %d %s", resp.StatusCode, b)
	}
}
