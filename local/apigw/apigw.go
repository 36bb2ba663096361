// Package apigw serves a Lambda handler for API Gateway HTTP API events
// (payload format 2.0) over plain HTTP, the way API Gateway and
// `sam local start-api` call it: the request becomes an
// events.APIGatewayV2HTTPRequest, the handler's response becomes the answer.
package apigw

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// MaxPayloadBytes is API Gateway's request payload limit (10 MB); larger
// requests are answered 413 without calling the handler.
const MaxPayloadBytes = 10 << 20

// Stage is the stage name of an HTTP API's default stage.
const Stage = "$default"

// Func is a Lambda handler for HTTP API events.
type Func func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// Handler serves one route with a Lambda handler.
type Handler struct {
	Func Func
	// RouteKey is the matched route, e.g. "POST /woocommerce/webhook";
	// "$default" when empty.
	RouteKey string
	// Timeout is the function's timeout, the deadline of the handler's
	// context; MaxIntegrationTimeout when zero.
	Timeout time.Duration
	// Log receives handler errors and panics (as API Gateway's execution
	// log would); slog.Default when nil.
	Log *slog.Logger
}

// MaxIntegrationTimeout is the longest an HTTP API waits for a Lambda.
const MaxIntegrationTimeout = 30 * time.Second

// API Gateway's own answers, with its exact bodies.
const (
	bodyTooLarge     = `{"message":"Request Entity Too Large"}`
	bodyInternal     = `{"message":"Internal Server Error"}`
	bodyNotFound     = `{"message":"Not Found"}`
	bodyNotAllowed   = `{"message":"Method Not Allowed"}`
	headerRequestID  = "Apigw-Requestid"
	timeLayout       = "02/Jan/2006:15:04:05 -0700"
	defaultRouteKey  = "$default"
	payloadVersion   = "2.0"
	localAccountID   = "000000000000"
	localAPIID       = "local"
	requestIDEntropy = 12
)

// ServeHTTP converts the request, calls the handler and writes its response.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.serve(w, r, nil) }

// serve is ServeHTTP with the route's path parameters.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request, params map[string]string) {
	ev, err := NewRequest(r, h.RouteKey)
	ev.PathParameters = params
	if err != nil {
		if errors.Is(err, ErrTooLarge) {
			writeRaw(w, http.StatusRequestEntityTooLarge, bodyTooLarge)
			return
		}
		writeRaw(w, http.StatusBadRequest, `{"message":"Bad Request"}`)
		return
	}
	w.Header().Set(headerRequestID, ev.RequestContext.RequestID)
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = MaxIntegrationTimeout
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	resp, err := h.call(ctx, ev)
	if err != nil {
		h.log().LogAttrs(r.Context(), slog.LevelError, "lambda invocation failed",
			slog.String("route", ev.RouteKey), slog.String("request_id", ev.RequestContext.RequestID), slog.String("error", err.Error()))
		writeRaw(w, http.StatusInternalServerError, bodyInternal)
		return
	}
	if err := WriteResponse(w, resp); err != nil {
		h.log().LogAttrs(r.Context(), slog.LevelError, "malformed lambda response",
			slog.String("route", ev.RouteKey), slog.String("error", err.Error()))
		writeRaw(w, http.StatusInternalServerError, bodyInternal)
	}
}

// call runs the handler, turning a panic into an error as the Lambda
// runtime does.
func (h *Handler) call(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (resp events.APIGatewayV2HTTPResponse, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("handler panicked: %v", p)
		}
	}()
	return h.Func(ctx, ev)
}

func (h *Handler) log() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.Default()
}

// ErrTooLarge means the request body exceeds MaxPayloadBytes.
var ErrTooLarge = errors.New("request body exceeds API Gateway's 10 MB limit")

// NewRequest builds the event API Gateway would pass for r, reading its
// body. routeKey is "$default" when empty.
func NewRequest(r *http.Request, routeKey string) (events.APIGatewayV2HTTPRequest, error) {
	if r.ContentLength > MaxPayloadBytes {
		return events.APIGatewayV2HTTPRequest{}, ErrTooLarge
	}
	var body []byte
	if r.Body != nil {
		var err error
		body, err = io.ReadAll(io.LimitReader(r.Body, MaxPayloadBytes+1))
		if err != nil {
			return events.APIGatewayV2HTTPRequest{}, fmt.Errorf("read request body: %w", err)
		}
		if len(body) > MaxPayloadBytes {
			return events.APIGatewayV2HTTPRequest{}, ErrTooLarge
		}
	}
	if routeKey == "" {
		routeKey = defaultRouteKey
	}
	now := time.Now()
	ev := events.APIGatewayV2HTTPRequest{
		Version:        payloadVersion,
		RouteKey:       routeKey,
		RawPath:        r.URL.EscapedPath(),
		RawQueryString: r.URL.RawQuery,
		Headers:        headers(r),
		Cookies:        cookies(r),
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:     routeKey,
			AccountID:    localAccountID,
			Stage:        Stage,
			RequestID:    requestID(),
			APIID:        localAPIID,
			DomainName:   r.Host,
			DomainPrefix: strings.SplitN(r.Host, ".", 2)[0],
			Time:         now.UTC().Format(timeLayout),
			TimeEpoch:    now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method:    r.Method,
				Path:      r.URL.Path,
				Protocol:  r.Proto,
				SourceIP:  sourceIP(r.RemoteAddr),
				UserAgent: r.UserAgent(),
			},
		},
	}
	if q := query(r); len(q) > 0 {
		ev.QueryStringParameters = q
	}
	if len(body) > 0 {
		if IsText(r.Header.Get("Content-Type")) {
			ev.Body = string(body)
		} else {
			ev.Body = base64.StdEncoding.EncodeToString(body)
			ev.IsBase64Encoded = true
		}
	}
	return ev, nil
}

// IsText reports whether API Gateway passes a body of this content type as
// text; any other body (form posts, binaries, no content type) arrives
// base64-encoded with isBase64Encoded set.
func IsText(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	switch {
	case strings.HasPrefix(mt, "text/"),
		mt == "application/json", strings.HasSuffix(mt, "+json"),
		mt == "application/xml", strings.HasSuffix(mt, "+xml"),
		mt == "application/javascript":
		return true
	}
	return false
}

// headers lower-cases names and joins repeated values with commas, as
// payload format 2.0 does. Cookies travel in their own field.
func headers(r *http.Request) map[string]string {
	h := make(map[string]string, len(r.Header)+2)
	for k, vs := range r.Header {
		name := strings.ToLower(k)
		if name == "cookie" {
			continue
		}
		h[name] = strings.Join(vs, ",")
	}
	// Go moves these out of r.Header; API Gateway passes them on.
	if r.Host != "" {
		h["host"] = r.Host
	}
	if _, ok := h["content-length"]; !ok && r.ContentLength > 0 {
		h["content-length"] = strconv.FormatInt(r.ContentLength, 10)
	}
	return h
}

func cookies(r *http.Request) []string {
	var out []string
	for _, c := range r.Cookies() {
		out = append(out, c.Name+"="+c.Value)
	}
	return out
}

func query(r *http.Request) map[string]string {
	q := r.URL.Query()
	out := make(map[string]string, len(q))
	for k, vs := range q {
		out[k] = strings.Join(vs, ",")
	}
	return out
}

func sourceIP(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return remote
	}
	return host
}

// requestID looks like API Gateway's ("JKJaXmPLvHcESHA="): random, base64.
func requestID() string {
	b := make([]byte, requestIDEntropy)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// WriteResponse writes a handler's response as API Gateway does: status,
// headers (single- and multi-value), cookies, and the body, base64-decoded
// when IsBase64Encoded. A status outside 100–599 is an error.
func WriteResponse(w http.ResponseWriter, resp events.APIGatewayV2HTTPResponse) error {
	if resp.StatusCode < 100 || resp.StatusCode > 599 {
		return fmt.Errorf("status code %d is not an HTTP status", resp.StatusCode)
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(resp.Body)
		if err != nil {
			return fmt.Errorf("response body is not valid base64: %w", err)
		}
		body = b
	}
	hdr := w.Header()
	names := make([]string, 0, len(resp.MultiValueHeaders))
	for k := range resp.MultiValueHeaders {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		for _, v := range resp.MultiValueHeaders[k] {
			hdr.Add(k, v)
		}
	}
	for k, v := range resp.Headers {
		hdr.Set(k, v)
	}
	for _, c := range resp.Cookies {
		hdr.Add("Set-Cookie", c)
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
	return nil
}

func writeRaw(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// Route serves h for exactly one method and path, answering 404 for other
// paths and 405 for other methods, with API Gateway's bodies. A path
// segment {name} matches any one non-empty segment, passed to the handler
// in the event's PathParameters (decoded), as API Gateway does.
func Route(method, path string, h *Handler) http.Handler {
	if h.RouteKey == "" {
		h.RouteKey = method + " " + path
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		params, ok := Match(path, r)
		switch {
		case !ok:
			writeRaw(w, http.StatusNotFound, bodyNotFound)
		case r.Method != method:
			w.Header().Set("Allow", method)
			writeRaw(w, http.StatusMethodNotAllowed, bodyNotAllowed)
		default:
			h.serve(w, r, params)
		}
	})
}

// Match reports whether r's path matches a route's path, and returns the
// values of its {name} segments (nil when it has none).
func Match(path string, r *http.Request) (map[string]string, bool) {
	if !strings.Contains(path, "{") {
		return nil, r.URL.Path == path
	}
	want, got := strings.Split(path, "/"), strings.Split(r.URL.EscapedPath(), "/")
	if len(want) != len(got) {
		return nil, false
	}
	params := map[string]string{}
	for i, seg := range want {
		if !strings.HasPrefix(seg, "{") || !strings.HasSuffix(seg, "}") {
			if got[i] != seg {
				return nil, false
			}
			continue
		}
		v, err := url.PathUnescape(got[i])
		if err != nil || v == "" {
			return nil, false
		}
		params[seg[1:len(seg)-1]] = v
	}
	return params, true
}
