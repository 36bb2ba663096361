package stack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
)

// The emulator's proxy says nothing when a client went away (Ctrl-C on make
// activate), and logs what else goes wrong between it and kumo.
func TestQuietProxyError(t *testing.T) {
	var logs bytes.Buffer
	log.SetOutput(&logs)
	defer log.SetOutput(os.Stderr)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name   string
		ctx    context.Context
		err    error
		logged bool
	}{
		{"long poll cut short", context.Background(), context.Canceled, false},
		{"request body cut short", context.Background(), &net.OpError{Op: "readfrom", Net: "tcp", Err: io.ErrUnexpectedEOF}, false},
		{"client disconnected", cancelled, errors.New("write: broken pipe"), false},
		{"kumo refuses connections", context.Background(), &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs.Reset()
			w := httptest.NewRecorder()
			quietProxyError(w, httptest.NewRequest(http.MethodPost, "/", nil).WithContext(tc.ctx), fmt.Errorf("proxy: %w", tc.err))
			if w.Code != http.StatusBadGateway || (logs.Len() > 0) != tc.logged {
				t.Errorf("answered %d, logged %q; want 502, logged %v", w.Code, logs.String(), tc.logged)
			}
		})
	}
}

// The proxy's own log keeps what matters and drops the copies cut short by
// a client that went away.
func TestQuietWriter(t *testing.T) {
	for _, tc := range []struct {
		line string
		kept bool
	}{
		{"httputil: ReverseProxy read error during body copy: read tcp 127.0.0.1:50480->127.0.0.1:36983: use of closed network connection", false},
		{"httputil: ReverseProxy read error during body copy: context canceled", false},
		{"http: proxy error: dial tcp 127.0.0.1:36983: connect: connection refused", true},
	} {
		var out bytes.Buffer
		l := log.New(quietWriter{&out}, "", 0)
		l.Print(tc.line)
		if (out.Len() > 0) != tc.kept {
			t.Errorf("%q: kept %v, want %v", tc.line, out.Len() > 0, tc.kept)
		}
	}
}
