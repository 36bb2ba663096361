package forwarder

import (
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/logistos-sync/logistos-sync/shared/logistos"
)

// Retry schedules for a record that failed transiently, by receive count.
// The fast one is for a blip (a lost connection, one 503 among many 2xx):
// three failures in a row cost about 10+30+90 s, so the order still arrives
// within three minutes. The slow one, base·4^(n-1) (1, 4, 16, 64 minutes),
// is for a Logistos that fails most POSTs: five receives span more than an
// hour of outage before SQS moves the order on, and the outage sees no more
// POSTs than before the fast schedule existed.
var fastSchedule = [...]time.Duration{10 * time.Second, 30 * time.Second, 90 * time.Second, 8 * time.Minute}

// MaxReceives is the orders and backfill queues' maxReceiveCount in
// template.yaml (local/templatecheck holds them equal): after that many
// receives SQS moves a record to the waiting queue instead of delivering it.
const MaxReceives = 5

const (
	slowBase = time.Minute
	delayMax = 12 * time.Hour // SQS's visibility timeout limit
	// jitterPart is the jitter's half-width as a fraction of the delay
	// (1/5: ±20%), so that orders that failed together come back spread out.
	jitterPart = 5
)

// The record of recent outcomes: Logistos is failing when more than half of
// the last retryWindow POSTs that reached a verdict failed transiently, once
// at least retryMinSamples are known.
//
// It counts POSTs, not seconds. A count needs no clock and forgets nothing
// without new evidence: during an outage the only POSTs are the slow
// schedule's retries, minutes apart, and a time-decayed window would empty
// between them and fall back to the fast schedule while Logistos is still
// down. The retries are themselves the evidence of recovery: once Logistos
// answers, they succeed and the record turns within half a window.
// retryMinSamples is one full batch (DefaultConcurrency POSTs, settled
// before any of them is scheduled), so a cold container whose first batch
// all fails already backs off slowly. With 5% of POSTs failing at random, a
// failed order finds more than half of a 10-POST record failed about once in
// 30,000, and of a full 20-POST one about once in two billion.
const (
	retryWindow     = 20
	retryMinSamples = 10
)

// Retry decides how long a record that failed transiently stays invisible
// before SQS delivers it again: the fast schedule while most recent POSTs
// succeed, the slow one while most fail. One Retry serves one Handler, that
// is one container: each container judges Logistos by its own POSTs. Its
// zero value is ready to use, and it is safe for concurrent use.
type Retry struct {
	// Rand returns a uniform random number in [0, n), for the jitter;
	// rand.Int64N when nil.
	Rand func(n int64) int64

	mu     sync.Mutex
	failed [retryWindow]bool // ring of the last outcomes, true for a failure
	next   int               // where the next outcome goes
	n      int               // outcomes recorded, at most retryWindow
	fails  int               // failures among them
}

// Observe records the outcome of one POST to Logistos. A transient failure
// (network, timeout, 408, 429, 5xx) counts against Logistos; a success and a
// permanent refusal (another 4xx) count for it, since a Logistos that
// judges an order and refuses it is up: retrying sooner would not bring that
// order any sooner, and a burst of bad orders must not slow every other
// order's retries. An error from before the request reached Logistos (an
// unencodable payload) says nothing about it and is not counted.
func (r *Retry) Observe(err error) {
	failed := logistos.IsTransient(err)
	if err != nil && !failed {
		var le *logistos.Error
		if !errors.As(err, &le) || le.StatusCode == 0 {
			return
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n == retryWindow {
		if r.failed[r.next] {
			r.fails--
		}
	} else {
		r.n++
	}
	r.failed[r.next] = failed
	if failed {
		r.fails++
	}
	r.next = (r.next + 1) % retryWindow
}

// Failing reports whether most recent POSTs failed transiently.
func (r *Retry) Failing() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n >= retryMinSamples && 2*r.fails > r.n
}

// Delay returns how long a record received receives times waits before SQS
// delivers it again: 10 s, 30 s, 90 s, then 8 minutes while Logistos mostly
// answers; 1, 4, 16, 64 minutes and on while it mostly fails; ±20% either way.
func (r *Retry) Delay(receives int) time.Duration {
	if r.Failing() {
		return r.jitter(slowDelay(receives))
	}
	return r.jitter(fastDelay(receives))
}

func (r *Retry) jitter(d time.Duration) time.Duration {
	rnd := r.Rand
	if rnd == nil {
		rnd = rand.Int64N
	}
	half := d / jitterPart
	return min(d-half+time.Duration(rnd(2*int64(half)+1)), delayMax)
}

// fastDelay is the fast schedule's delay after receive n, before jitter.
func fastDelay(n int) time.Duration {
	return fastSchedule[min(max(n, 1), len(fastSchedule))-1]
}

// slowDelay is the slow schedule's delay after receive n, before jitter:
// the forwarder's only schedule before the fast one.
func slowDelay(n int) time.Duration {
	d := slowBase
	for i := 1; i < n && d < delayMax; i++ {
		d *= 4
	}
	return min(d, delayMax)
}
