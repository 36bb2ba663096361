package activate

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/logistos-sync/logistos-sync/shared/logistos"
	"github.com/logistos-sync/logistos-sync/shared/metrics"
	"github.com/logistos-sync/logistos-sync/shared/state"
	"github.com/logistos-sync/logistos-sync/shared/wooapi"
	"github.com/logistos-sync/logistos-sync/shared/wookey"
)

// keyShop answers GET /orders as WooCommerce does for each consumer key:
// ck_good reads, ck_customer's user may not (403), ck_down meets a shop in
// trouble (503), any other key is unknown (401).
func keyShop(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, _, _ := r.BasicAuth()
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		switch user {
		case "ck_good":
			w.Header().Set("X-WP-Total", "0")
			w.Header().Set("X-WP-TotalPages", "0")
			io.WriteString(w, "[]")
		case "ck_customer":
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `{"code":"woocommerce_rest_cannot_view","message":"Sorry, you cannot list resources.","data":{"status":403}}`)
		case "ck_down":
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"code":"maintenance","message":"Back soon","data":{"status":503}}`)
		default:
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"code":"woocommerce_rest_cannot_view","message":"Sorry, you cannot list resources.","data":{"status":401}}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// keyWriter records what became the key in use.
type keyWriter struct {
	keys     []wooapi.Key
	versions []string
}

func (w *keyWriter) Put(_ context.Context, k wooapi.Key, version string) error {
	w.keys, w.versions = append(w.keys, k), append(w.versions, version)
	return nil
}

// poster records the credentials handed to Logistos.
type poster struct{ sent []logistos.Credentials }

func (p *poster) PostCredentials(_ context.Context, c logistos.Credentials) error {
	p.sent = append(p.sent, c)
	return nil
}

// TestPendingKey: a key that arrived through connect is proven against the
// shop before anything else. Accepted, it becomes the key in use and the
// steps run with it; refused (401, 403), it is discarded and nothing runs,
// without a function error; unchecked (the shop down), it stays pending
// and the run fails, to be retried.
func TestPendingKey(t *testing.T) {
	inUse := wooapi.Key{ConsumerKey: "ck_owner", ConsumerSecret: "cs_owner"}
	cases := []struct {
		key         string
		wantErr     bool
		outcome     string // the run's
		keyOutcome  string
		adopted     bool
		stillThere  bool
		rejectedMet int
	}{
		{key: "ck_good", keyOutcome: KeyProven, adopted: true},
		{key: "ck_stranger", outcome: OutcomeKeyRejected, keyOutcome: KeyRejected, rejectedMet: 1},
		{key: "ck_customer", outcome: OutcomeKeyRejected, keyOutcome: KeyRejected, rejectedMet: 1},
		{key: "ck_down", wantErr: true, keyOutcome: OutcomeFailed, stillThere: true},
	}
	for _, c := range cases {
		t.Run(c.key, func(t *testing.T) {
			now := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
			url := keyShop(t)
			h, _ := handlerFor(t, url)
			h.Shop.RetryDelay = func(int, time.Duration) time.Duration { return 0 }
			h.Keys = wookey.Static(inUse)
			h.Pending = wookey.Pending{States: &state.MemoryOnce{Now: func() time.Time { return now }}}
			writer, lg, emf := &keyWriter{}, &poster{}, &bytes.Buffer{}
			h.KeyStore, h.Logistos, h.Metrics = writer, lg, metrics.New(emf, "test")
			logs := &bytes.Buffer{}
			h.Log = slog.New(slog.NewJSONHandler(logs, nil))
			ctx := context.Background()
			_ = h.Pending.Await(ctx, "state", "", now.Add(time.Minute))
			pk := wookey.PendingKey{Key: wooapi.Key{ConsumerKey: c.key, ConsumerSecret: "cs_" + c.key[3:]}, KeyID: 7, ArrivedAt: now}
			ref, _, err := h.Pending.Arrive(ctx, "state", pk)
			if err != nil {
				t.Fatal(err)
			}

			rep, err := h.Handle(ctx, Event{Steps: []string{StepHandoff}, PendingKey: ref})
			if (err != nil) != c.wantErr || rep.Outcome != c.outcome || rep.Key == nil || rep.Key.Outcome != c.keyOutcome {
				t.Fatalf("err %v, outcome %q, key %+v", err, rep.Outcome, rep.Key)
			}
			if rep.Key.Key != "key_id 7, consumer key ending in "+c.key[max(0, len(c.key)-7):] {
				t.Errorf("the report names the key %q", rep.Key.Key)
			}
			if c.adopted {
				if len(writer.keys) != 1 || writer.keys[0] != pk.Key || writer.versions[0] != ref {
					t.Errorf("key in use written %+v as %v", writer.keys, writer.versions)
				}
				if len(lg.sent) != 1 || lg.sent[0].ConsumerKey != c.key || rep.Handoff == nil {
					t.Errorf("handed over %+v, want the proven key", lg.sent)
				}
			} else if len(writer.keys) != 0 || len(lg.sent) != 0 || rep.Handoff != nil {
				t.Errorf("a key the shop did not accept was written (%d) or handed over (%d), or a step ran", len(writer.keys), len(lg.sent))
			}
			if _, err := h.Pending.Get(ctx, ref, ""); errors.Is(err, wookey.ErrNoPendingKey) == c.stillThere {
				t.Errorf("still pending afterwards: %v, want %v", err == nil, c.stillThere)
			}
			if n := strings.Count(emf.String(), `"`+metrics.ConnectKeyRejected+`":1`); n != c.rejectedMet {
				t.Errorf("%s counted %d times, want %d", metrics.ConnectKeyRejected, n, c.rejectedMet)
			}
			if strings.Contains(logs.String(), pk.ConsumerSecret) {
				t.Errorf("a consumer secret was logged:\n%s", logs.String())
			}
		})
	}
}

// TestNoPendingKeyRunsTheKeyInUse: a reference nothing is pending under
// (an earlier attempt of the same event proved it) runs the key in use.
func TestNoPendingKeyRunsTheKeyInUse(t *testing.T) {
	h, _ := handlerFor(t, keyShop(t))
	h.Keys = wookey.Static{ConsumerKey: "ck_good", ConsumerSecret: "cs_good"}
	h.Pending = wookey.Pending{States: &state.MemoryOnce{}}
	lg := &poster{}
	h.Logistos = lg
	rep, err := h.Handle(context.Background(), Event{Steps: []string{StepHandoff}, PendingKey: wookey.Ref("gone")})
	if err != nil || rep.Key == nil || rep.Key.Outcome != KeyNotPending || len(lg.sent) != 1 || lg.sent[0].ConsumerKey != "ck_good" {
		t.Fatalf("%v %+v, handed over %+v", err, rep.Key, lg.sent)
	}
}

// TestAnotherShopsPendingKeyIsNotRead: a key whose state a hub issued for
// another shop is not pending for the shop this run activates: the run
// never checks, stores or hands it over, and the key stays for its shop.
func TestAnotherShopsPendingKeyIsNotRead(t *testing.T) {
	for _, runFor := range []string{"", "https://b.example"} {
		t.Run("run for "+runFor, func(t *testing.T) {
			h, _ := handlerFor(t, keyShop(t))
			h.Keys = wookey.Static{ConsumerKey: "ck_good", ConsumerSecret: "cs_good"}
			h.Pending = wookey.Pending{States: &state.MemoryOnce{}}
			writer, lg := &keyWriter{}, &poster{}
			h.KeyStore, h.Logistos = writer, lg
			ctx := context.Background()
			if err := h.Pending.Await(ctx, "state", "https://a.example", time.Now().Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			ref, _, err := h.Pending.Arrive(ctx, "state", wookey.PendingKey{Key: wooapi.Key{ConsumerKey: "ck_good", ConsumerSecret: "cs_good"}, ArrivedAt: time.Now()})
			if err != nil {
				t.Fatal(err)
			}
			rep, _ := h.Handle(ctx, Event{Steps: []string{StepHandoff}, PendingKey: ref, StoreURL: runFor})
			if rep.Key == nil || rep.Key.Outcome != KeyNotPending || len(writer.keys) != 0 {
				t.Errorf("key %+v, written %d: another shop's pending key was used", rep.Key, len(writer.keys))
			}
			if _, err := h.Pending.Get(ctx, ref, "https://a.example"); err != nil {
				t.Errorf("the key is no longer pending for its own shop: %v", err)
			}
		})
	}
}
