package connecting

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/logistos-sync/logistos-sync/shared/activate"
	"github.com/logistos-sync/logistos-sync/shared/connect"
	"github.com/logistos-sync/logistos-sync/shared/metrics"
)

// strangerCallback plays a stranger: a state from the public connect route
// and a key of their own, posted as WooCommerce would post it. It returns
// the state and the answer's status.
func (e *env) strangerCallback(i int) (string, int) {
	e.t.Helper()
	_, st := e.authorizeURL()
	body := fmt.Sprintf(`{"key_id":%d,"user_id":%q,"consumer_key":"ck_stranger%d","consumer_secret":"cs_stranger%d","key_permissions":"read_write"}`,
		900+i, st, i, i)
	resp, err := http.Post(e.api+connect.PathCallback, "application/json;charset=UTF-8", strings.NewReader(body))
	status, _ := page(e.t, resp, err)
	return st, status
}

// secretVersions counts the credentials secret's versions.
func (e *env) secretVersions() int {
	e.t.Helper()
	out, err := e.st.Secrets.DescribeSecret(context.Background(), &secretsmanager.DescribeSecretInput{SecretId: &e.st.WooCredentialsSecretARN})
	if err != nil {
		e.t.Fatal(err)
	}
	return len(out.VersionIdsToStages)
}

// emitted counts the occurrences of a metric in the functions' EMF lines.
func (e *env) emitted(name string) int {
	return strings.Count(e.metrics.String(), `,"`+name+`":1`)
}

// TestStrangersKeyNeverReplacesTheOwners: states are public (anyone can ask
// the connect route for one), so a callback proves nothing about who sent
// its key. A stranger's key is kept pending, proven against the shop by the
// activation it starts, refused there and counted; the owner's key stays
// the key in use and is not handed to Logistos again.
func TestStrangersKeyNeverReplacesTheOwners(t *testing.T) {
	e := newEnv(t, 3)
	authorize, ownerState := e.authorizeURL()
	if status, _ := e.click(authorize, true); status != 200 {
		t.Fatalf("owner's approve: %d", status)
	}
	if rep := e.activated(1); !rep.OK || rep.Handoff == nil || rep.Handoff.Outcome != activate.OutcomeDone {
		t.Fatalf("owner's activation %+v", rep)
	}
	owner := e.storedKey()
	versions := e.secretVersions()

	st, status := e.strangerCallback(1)
	if status != http.StatusOK {
		t.Fatalf("stranger's callback answered %d, want 200 (the callback cannot tell a stranger's key from the owner's)", status)
	}
	rep := e.activated(2)
	if rep.Outcome != activate.OutcomeKeyRejected || !rep.OK || rep.Handoff != nil || rep.Webhook != nil || rep.Backfill != nil {
		t.Errorf("activation of the stranger's key: outcome %q ok %v, steps run: handoff %v webhook %v backfill %v; want %q and no step",
			rep.Outcome, rep.OK, rep.Handoff != nil, rep.Webhook != nil, rep.Backfill != nil, activate.OutcomeKeyRejected)
	}
	if !strings.Contains(rep.Detail, "key_id 901") {
		t.Errorf("the report does not name the refused key by its WooCommerce id: %q", rep.Detail)
	}
	if k := e.storedKey(); k != owner {
		t.Fatalf("the stranger's key replaced the owner's key in use (%s...)", k.ConsumerKey[:min(len(k.ConsumerKey), 11)])
	}
	if n := e.secretVersions(); n != versions {
		t.Errorf("the credentials secret has %d versions, had %d: the stranger's key was written to it", n, versions)
	}
	if c := e.credentialsSent(); len(c) != 1 || c[0].ConsumerKey != owner.ConsumerKey {
		t.Errorf("Logistos got credentials %d times, want only the owner's key once", len(c))
	}
	if n := e.emitted(metrics.ConnectKeyRejected); n != 1 {
		t.Errorf("%s counted %d times, want 1", metrics.ConnectKeyRejected, n)
	}
	e.noSecretsLogged(ownerState, st, "ck_stranger1", "cs_stranger1")
}

// TestOwnersReconnectReplacesTheKey: a second key the shop really issued
// (the owner approving again) is proven, becomes the key in use and is
// handed to Logistos.
func TestOwnersReconnectReplacesTheKey(t *testing.T) {
	e := newEnv(t, 0)
	for i := 1; i <= 2; i++ {
		authorize, _ := e.authorizeURL()
		if status, _ := e.click(authorize, true); status != 200 {
			t.Fatalf("approve %d: %d", i, status)
		}
		rep := e.activated(i)
		if !rep.OK || rep.Handoff == nil || rep.Handoff.Outcome != activate.OutcomeDone {
			t.Fatalf("activation %d: %+v", i, rep)
		}
	}
	auths := e.shop.Authorizations()
	if k := e.storedKey(); len(auths) != 2 || k.ConsumerKey != auths[1].Key || k.ConsumerSecret != auths[1].Secret {
		t.Fatal("the owner's second key is not the key in use")
	}
	if c := e.credentialsSent(); len(c) != 2 || c[1].ConsumerKey != auths[1].Key {
		t.Errorf("Logistos got credentials %d times, want the second key handed over", len(c))
	}
	if n := e.emitted(metrics.ConnectKeyRejected); n != 0 {
		t.Errorf("%s counted %d times for the owner's own keys", metrics.ConnectKeyRejected, n)
	}
}

// TestCallbackFloodWritesNoSecret: 50 strangers' callbacks in a row, each
// with a state from the connect route, write no version of the credentials
// secret (Secrets Manager keeps unlabelled versions for a day, up to a
// quota, so a flood of them could block the owner's own reconnect), and
// leave the owner's key in use.
func TestCallbackFloodWritesNoSecret(t *testing.T) {
	e := newEnv(t, 0)
	authorize, _ := e.authorizeURL()
	if status, _ := e.click(authorize, true); status != 200 {
		t.Fatal(status)
	}
	e.activated(1)
	owner, versions := e.storedKey(), e.secretVersions()
	const flood = 50
	for i := range flood {
		if _, status := e.strangerCallback(i); status != http.StatusOK {
			t.Fatalf("callback %d answered %d", i, status)
		}
	}
	e.activated(1 + flood)
	e.c.Activation.Wait()
	if n := e.secretVersions(); n != versions {
		t.Errorf("%d callbacks wrote %d secret versions, want none", flood, n-versions)
	}
	if e.storedKey() != owner {
		t.Error("the owner's key is no longer the key in use")
	}
	if n := e.emitted(metrics.ConnectKeyRejected); n != flood {
		t.Errorf("%s counted %d times, want %d", metrics.ConnectKeyRejected, n, flood)
	}
	if c := e.credentialsSent(); len(c) != 1 {
		t.Errorf("Logistos got credentials %d times, want once (the owner's)", len(c))
	}
}
