package lambdarie

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/logistos-sync/logistos-sync/local/syncbuf"
)

// InvokePath is the emulator's invoke endpoint (the Lambda Invoke API's).
const InvokePath = "/2015-03-31/functions/function/invocations"

const (
	// DefaultTimeout is the function timeout (AWS_LAMBDA_FUNCTION_TIMEOUT)
	// when env sets none.
	DefaultTimeout = 30
	// readyTimeout bounds how long the emulator may take to listen.
	readyTimeout = 10 * time.Second
	// startAttempts covers another process taking the free port between
	// choosing it and the emulator binding it.
	startAttempts = 3
	// stopTimeout bounds waiting for killed processes to be reaped.
	stopTimeout = 5 * time.Second
)

// Function is a bootstrap running under the emulator.
type Function struct {
	// URL is the invoke endpoint.
	URL string

	cmd    *exec.Cmd
	out    *syncbuf.Buffer
	exited chan struct{}
	once   sync.Once
}

// Start runs bootstrap under the emulator on a free 127.0.0.1 port. The
// function sees only env (plus AWS_LAMBDA_FUNCTION_NAME, the bootstrap's
// directory name, and AWS_LAMBDA_FUNCTION_TIMEOUT, DefaultTimeout seconds,
// unless env sets them): nothing leaks in from the caller's environment.
// The function initialises on the first Invoke, as in Lambda. Always Close it.
func (r *RIE) Start(bootstrap string, env map[string]string) (*Function, error) {
	var err error
	for range startAttempts {
		var f *Function
		if f, err = r.start(bootstrap, env); err == nil {
			return f, nil
		}
	}
	return nil, err
}

func (r *RIE) start(bootstrap string, env map[string]string) (*Function, error) {
	// Both of the emulator's listeners get free ports: its defaults
	// (0.0.0.0:8080 for invokes, 127.0.0.1:9001 for the runtime API) would
	// clash between functions running at once.
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	apiPort, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cmd := exec.Command(r.Emulator,
		"--runtime-interface-emulator-address", addr,
		"--runtime-api-address", net.JoinHostPort("127.0.0.1", strconv.Itoa(apiPort)),
		bootstrap)
	cmd.Dir = filepath.Dir(bootstrap)
	cmd.Env = environ(bootstrap, env)
	out := &syncbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	setProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the emulator: %w", err)
	}
	f := &Function{URL: "http://" + addr + InvokePath, cmd: cmd, out: out, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(f.exited) }()
	if err := f.waitReady(addr); err != nil {
		f.Close()
		return nil, fmt.Errorf("%w\n%s", err, out.String())
	}
	return f, nil
}

func environ(bootstrap string, env map[string]string) []string {
	all := map[string]string{
		"AWS_LAMBDA_FUNCTION_NAME":    filepath.Base(filepath.Dir(bootstrap)),
		"AWS_LAMBDA_FUNCTION_TIMEOUT": strconv.Itoa(DefaultTimeout),
	}
	for k, v := range env {
		all[k] = v
	}
	out := make([]string, 0, len(all))
	for k, v := range all {
		out = append(out, k+"="+v)
	}
	return out
}

// freePort asks the kernel for an unused loopback port.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func (f *Function) waitReady(addr string) error {
	deadline := time.Now().Add(readyTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-f.exited:
			return ErrExited
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("the emulator did not listen on %s within %s", addr, readyTimeout)
}

// Invoke sends payload as one synchronous invocation and returns the
// function's response. An error means the invocation itself failed (the
// function could not start, crashed or timed out); a handler error comes
// back as the response {"errorMessage":...,"errorType":...}, see InvokeJSON.
func (f *Function) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.URL, bytes.NewReader(payload))
	if err != nil {
		return nil, fmt.Errorf("invoke: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("invoke: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("invoke: read response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return body, fmt.Errorf("invoke: the emulator answered %d %s", resp.StatusCode, bytes.TrimSpace(body))
	}
	return body, nil
}

// HandlerError is an error the handler returned (or a panic), as Lambda
// reports it.
type HandlerError struct {
	Message string `json:"errorMessage"`
	Type    string `json:"errorType"`
}

// Error says which error the handler returned.
func (e *HandlerError) Error() string { return "handler error " + e.Type + ": " + e.Message }

// InvokeJSON invokes with in encoded as JSON and decodes the response into
// out; a handler error is returned as *HandlerError.
func (f *Function) InvokeJSON(ctx context.Context, in, out any) error {
	payload, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	body, err := f.Invoke(ctx, payload)
	if err != nil {
		return err
	}
	var he HandlerError
	if json.Unmarshal(body, &he) == nil && he.Type != "" {
		return &he
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("decode response %s: %w", body, err)
	}
	return nil
}

// Output is everything the emulator and the function wrote so far, stdout
// and stderr interleaved: the function's log lines among the emulator's.
func (f *Function) Output() string { return f.out.String() }

// Close kills the emulator and the function (its whole process group) and
// waits for them. It is safe to call more than once.
func (f *Function) Close() {
	f.once.Do(func() {
		killProcessGroup(f.cmd)
		select {
		case <-f.exited:
		case <-time.After(stopTimeout):
		}
	})
}
