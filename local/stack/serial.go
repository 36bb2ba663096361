package stack

import (
	"net/http"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// secretsTurn makes the local stack's clients read Secrets Manager one at
// a time. kumo v0.33.1 writes a secret's LastAccessedDate on every read
// without holding its lock for writing, so two reads at once are a data
// race in the emulator (which the race detector reports in whatever test
// made them), not in this project's code. The functions read their secrets
// concurrently by design, as they may in AWS.
var secretsTurn sync.Mutex

// serialSecrets is an aws.HTTPClient that passes Secrets Manager requests
// to next one at a time and every other request as it comes.
type serialSecrets struct{ next aws.HTTPClient }

func (c serialSecrets) Do(r *http.Request) (*http.Response, error) {
	if strings.HasPrefix(r.Header.Get("X-Amz-Target"), "secretsmanager.") {
		secretsTurn.Lock()
		defer secretsTurn.Unlock()
	}
	return c.next.Do(r)
}
