package activation

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/logistos-sync/logistos-sync/local/fakelogistos"
	"github.com/logistos-sync/logistos-sync/local/fakewoo"
	"github.com/logistos-sync/logistos-sync/shared/activate"
	"github.com/logistos-sync/logistos-sync/shared/wookey"
)

var handoffOnly = activate.Event{Steps: []string{activate.StepHandoff}}

// The handoff checks the key, posts exactly the credentials payload once,
// and on later runs says it was already done, unless forced or the key
// changed.
func TestHandoff(t *testing.T) {
	e := newEnv(t, fakewoo.Options{Orders: 3}, nil)
	e.logistos.SetRespond(fakelogistos.Sequence(fakelogistos.Unavailable)) // then OK
	rep, err := e.run(handoffOnly)
	if err != nil {
		t.Fatal(err)
	}
	reqs := e.logistos.Requests()
	if rep.Handoff.Outcome != activate.OutcomeDone || len(reqs) != 2 || reqs[1].Status != 200 {
		t.Fatalf("outcome %s, %d requests", rep.Handoff.Outcome, len(reqs))
	}
	var got map[string]string
	if err := json.Unmarshal(reqs[1].Body, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"store_url": e.shop.URL, "consumer_key": fakewoo.Key, "consumer_secret": fakewoo.Secret}
	if len(got) != 3 || got["store_url"] != want["store_url"] || got["consumer_key"] != want["consumer_key"] || got["consumer_secret"] != want["consumer_secret"] {
		t.Errorf("payload %s", reqs[1].Body)
	}
	if ct := reqs[1].Header.Get("Content-Type"); ct != "application/json" || !strings.HasPrefix(reqs[1].Header.Get("User-Agent"), "logistos-sync/") {
		t.Errorf("headers %v", reqs[1].Header)
	}
	// The key was checked against the shop first.
	if e.shop.Stats().ListRequests != 1 {
		t.Errorf("%d listings, want the one key check", e.shop.Stats().ListRequests)
	}

	again, err := e.run(handoffOnly)
	if err != nil || again.Handoff.Outcome != activate.OutcomeAlreadyDone || !strings.Contains(again.Handoff.Detail, "already handed off") || len(e.logistos.Requests()) != 2 {
		t.Fatalf("second run: %+v %v, %d requests", again.Handoff, err, len(e.logistos.Requests()))
	}
	forced, err := e.run(activate.Event{Steps: []string{"handoff"}, Force: true})
	if err != nil || forced.Handoff.Outcome != activate.OutcomeDone || len(e.logistos.Requests()) != 3 {
		t.Fatalf("forced: %+v %v", forced.Handoff, err)
	}

	// A new key (same handler, so the same checkpoint store) hands off again.
	e.shop.AddKey("ck_new", "cs_new", fakewoo.ReadWrite)
	e.h.Keys = wookey.Static{ConsumerKey: "ck_new", ConsumerSecret: "cs_new"}
	if rep, err := e.run(handoffOnly); err != nil || rep.Handoff.Outcome != activate.OutcomeDone || len(e.logistos.Requests()) != 4 {
		t.Fatalf("new key: %+v %v", rep.Handoff, err)
	}
	for _, line := range strings.Split(e.logs.String(), "\n") {
		if strings.Contains(line, "cs_new") || strings.Contains(line, fakewoo.Secret) {
			t.Errorf("a log line holds a secret: %s", line)
		}
	}
}

// Logistos refusing the credentials is an error naming the URL; nothing is
// remembered, so the next run tries again.
func TestHandoffRefused(t *testing.T) {
	e := newEnv(t, fakewoo.Options{Orders: 3}, nil)
	e.logistos.SetRespond(fakelogistos.Always(fakelogistos.BadRequest))
	_, err := e.run(handoffOnly)
	if err == nil || !strings.Contains(err.Error(), "400") || !strings.Contains(err.Error(), "LOGISTOS_CREDENTIALS_URL") {
		t.Fatalf("err %v", err)
	}
	if n := len(e.logistos.Requests()); n != 1 {
		t.Errorf("a 400 was retried: %d requests", n)
	}
	e.logistos.SetRespond(fakelogistos.Always(fakelogistos.OK))
	if rep, err := e.run(handoffOnly); err != nil || rep.Handoff.Outcome != activate.OutcomeDone {
		t.Fatalf("retry run: %+v %v", rep.Handoff, err)
	}
}

// The console test events in events/ are valid input: known fields, known
// steps; the dry run is a dry run.
func TestSampleEvents(t *testing.T) {
	for name, wantDry := range map[string]bool{"activate.json": false, "activate-backfill.json": false, "activate-dry-run.json": true} {
		b, err := os.ReadFile(filepath.Join("..", "..", "events", name))
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		var ev activate.Event
		if err := dec.Decode(&ev); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(ev.Steps) == 0 || ev.DryRun != wantDry || ev.Continuation || ev.RunID != "" {
			t.Errorf("%s: %+v", name, ev)
		}
		for _, s := range ev.Steps {
			if !slices.Contains(activate.AllSteps, s) {
				t.Errorf("%s: unknown step %q", name, s)
			}
		}
	}
}
