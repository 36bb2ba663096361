package templatecheck

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/logistos-sync/logistos-sync/local/repo"
	"github.com/logistos-sync/logistos-sync/shared/activate"
	"github.com/logistos-sync/logistos-sync/shared/connect"
)

// handlers are the packages that hold the functions' logic, one each
// (functions/<dir>/main.go is a thin main over shared/<dir>). No function
// links another's: the five are deployed, scaled and changed apart, and a
// contract they share (a state document, a queue message, an event) lives
// in a package both import.
var handlers = []string{"webhook", "forwarder", "activate", "reconcile", "connect"}

// apart names, for each function (its directory under functions/), the
// shared packages its binary must not link besides the other handlers,
// and why.
var apart = map[string]struct {
	pkgs []string
	why  string
}{
	"webhook": {[]string{"wooapi", "logistos", "orderpages"},
		"it checks a delivery's signature and queues it: it never calls the shop's REST API nor Logistos"},
	"forwarder": {[]string{"wooapi", "ledger", "orderpages"},
		"it posts queued orders to Logistos: it never calls the shop, and the ledger is written when an order is queued"},
	"activate":  {nil, ""},
	"reconcile": {nil, ""},
	"connect": {[]string{"ledger", "logistos", "queue", "orderpages"},
		"it keeps an authorized key pending and starts activation: the backfill engine, the queue and Logistos are activate's"},
}

// TestFunctionsLinkOnlyWhatTheyUse lists what each function's binary links
// as built for Lambda and fails on a package it must not link (another
// function's handler, or one named in apart), naming the chain of imports
// that pulls it in.
func TestFunctionsLinkOnlyWhatTheyUse(t *testing.T) {
	g := listImports(t, lambdaBuild, "./functions/...")
	for _, f := range functions {
		if _, ok := apart[f.dir]; !ok {
			t.Errorf("function %s has no entry in apart: say what it must not link", f.dir)
		}
	}
	for dir, a := range apart {
		t.Run(dir, func(t *testing.T) {
			main := repo.Module + "/functions/" + dir
			if _, ok := g.imports[main]; !ok {
				t.Fatalf("go list did not list %s", main)
			}
			for _, h := range handlers {
				if h != dir {
					if chain := g.chain(main, repo.Module+"/shared/"+h); chain != nil {
						t.Errorf("links shared/%s, another function's handler: %s", h, strings.Join(chain, " → "))
					}
				}
			}
			for _, p := range a.pkgs {
				if slices.Contains(handlers, p) {
					t.Fatalf("apart[%q] names the handler %s: every other handler is already excluded", dir, p)
				}
				if chain := g.chain(main, repo.Module+"/shared/"+p); chain != nil {
					t.Errorf("links shared/%s (%s): %s", p, a.why, strings.Join(chain, " → "))
				}
			}
		})
	}
}

// chain returns a shortest chain of imports from one package to another,
// both ends included and the module's prefix cut from each; nil when from
// does not link to.
func (g importGraph) chain(from, to string) []string {
	prev := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if p == to {
			var out []string
			for ; p != ""; p = prev[p] {
				out = append(out, strings.TrimPrefix(p, repo.Module+"/"))
			}
			slices.Reverse(out)
			return out
		}
		for _, imp := range g.imports[p] {
			if _, seen := prev[imp]; !seen {
				prev[imp] = p
				queue = append(queue, imp)
			}
		}
	}
	return nil
}

// lambdaAPI records the payload of the one invocation it takes.
type lambdaAPI struct{ payload []byte }

func (l *lambdaAPI) Invoke(_ context.Context, in *lambda.InvokeInput, _ ...func(*lambda.Options)) (*lambda.InvokeOutput, error) {
	l.payload = in.Payload
	return &lambda.InvokeOutput{StatusCode: 202}, nil
}

// Connect writes the event that starts activation itself, without
// linking activate: activate must read it, every field known, as a run of
// every step for that pending key.
func TestConnectStartsActivationWithAnEventActivateReads(t *testing.T) {
	// The home shop's event names no shop (as before hubs); a hub's names
	// the shop the state was bound to.
	for shop, want := range map[string]activate.Event{
		"":                  {PendingKey: "ref-1"},
		"https://a.example": {PendingKey: "ref-1", StoreURL: "https://a.example"},
	} {
		api := &lambdaAPI{}
		if err := (connect.LambdaStarter{Client: api, FunctionName: "activate"}).Start(context.Background(), "ref-1", shop); err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(api.payload))
		dec.DisallowUnknownFields()
		var ev activate.Event
		if err := dec.Decode(&ev); err != nil {
			t.Fatalf("activate cannot read connect's event %s: %v", api.payload, err)
		}
		if !reflect.DeepEqual(ev, want) {
			t.Errorf("connect's event %s reads as %+v, want every step for pending key ref-1 of shop %q", api.payload, ev, shop)
		}
		if shop == "" && bytes.Contains(api.payload, []byte("store_url")) {
			t.Errorf("the home shop's event %s names a shop", api.payload)
		}
	}
}
