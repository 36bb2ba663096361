package fakelogistos

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// How the printout of `make run` keeps up with a backfill: the payloads of
// a burst beyond the first few are counted, not printed. A terminal cannot
// show thousands of pretty-printed orders a second, and printing them holds
// up the forwarder that is waiting for the answer.
const (
	// FullPayloads is how many payloads of a burst are printed in full.
	FullPayloads = 3
	// BurstGap is the quiet time that ends a burst: the next payload is
	// printed in full again (an order sent by hand after a backfill).
	BurstGap = 2 * time.Second
	// SummaryEvery is how often a burst's counts are printed.
	SummaryEvery = 2 * time.Second
)

// burst is the printout's state; the Server's printMu guards it.
type burst struct {
	last    time.Time // latest payload
	full    int       // payloads of this burst printed in full
	started time.Time // first payload counted, not printed
	posts   int       // counted since the last summary line
	orders  int
	bytes   int
	events  map[string]int // orders counted by event, since the last summary
	// shops counts orders by store_url since the last summary; named in
	// the summary once the burst has had orders of more than one shop (a
	// hub's backfills), so that each shop's progress shows.
	shops map[string]int
	shop  string      // the burst's first store_url
	many  bool        // orders of another store_url than shop arrived
	since time.Time   // start of what the next summary line covers
	total int         // orders of the burst counted, not printed
	flush *time.Timer // prints the burst's last counts once it ends
}

// payloadCounts are the parts of a payload a summary counts.
type payloadCounts struct {
	Event    string            `json:"event"`
	StoreURL string            `json:"store_url"`
	Orders   []json.RawMessage `json:"orders"`
}

// printBurst prints r in full, or counts it once the burst has had its
// FullPayloads. s.printMu must be held.
func (s *Server) printBurst(r *Request, full func()) {
	now := s.clock()
	b := &s.burst
	if !b.last.IsZero() && now.Sub(b.last) >= BurstGap {
		s.endBurst()
	}
	b.last = now
	if b.full < FullPayloads {
		b.full++
		full()
		return
	}
	var p payloadCounts
	_ = json.Unmarshal(r.Body, &p)
	n := max(len(p.Orders), 1)
	if b.posts == 0 && b.total == 0 {
		b.started, b.since = now, now
		fmt.Fprintf(s.Print, "\n── more payloads are arriving: from now on counted every %s, not printed\n", SummaryEvery)
	}
	if b.events == nil {
		b.events = map[string]int{}
	}
	b.posts, b.orders, b.bytes, b.total = b.posts+1, b.orders+n, b.bytes+len(r.Body), b.total+n
	b.events[p.Event] += n
	if b.shops == nil {
		b.shops = map[string]int{}
	}
	b.shops[p.StoreURL] += n
	if b.shop == "" {
		b.shop = p.StoreURL
	}
	b.many = b.many || p.StoreURL != b.shop
	if now.Sub(b.since) >= SummaryEvery {
		s.summary(now)
	}
	if s.Now == nil && b.flush == nil {
		b.flush = time.AfterFunc(BurstGap, s.flushLater)
	}
}

// summary prints the counts since the last summary line.
func (s *Server) summary(now time.Time) {
	b := &s.burst
	if b.posts == 0 {
		return
	}
	secs := now.Sub(b.since).Seconds()
	rate := ""
	if secs > 0 {
		rate = fmt.Sprintf(", %.0f orders/s", float64(b.orders)/secs)
	}
	events := make([]string, 0, len(b.events))
	for e, n := range b.events {
		if e == "" {
			e = "no event"
		}
		events = append(events, fmt.Sprintf("%s %d", e, n))
	}
	sort.Strings(events)
	from := ""
	if b.many {
		shops := make([]string, 0, len(b.shops))
		for u, n := range b.shops {
			shops = append(shops, fmt.Sprintf("%s %d", u, n))
		}
		sort.Strings(shops)
		from = ", from " + strings.Join(shops, ", ")
	}
	fmt.Fprintf(s.Print, "── Logistos received %d POSTs, %d orders (%s), %d KB%s%s; %d orders in this burst so far\n",
		b.posts, b.orders, strings.Join(events, ", "), b.bytes/1024, rate, from, b.total)
	b.posts, b.orders, b.bytes, b.events, b.shops, b.since = 0, 0, 0, nil, nil, now
}

// endBurst prints a burst's last counts and its total; the next payload
// starts a new burst.
func (s *Server) endBurst() {
	b := &s.burst
	if b.total > 0 {
		s.summary(b.last)
		took := b.last.Sub(b.started)
		fmt.Fprintf(s.Print, "── burst over: %d orders counted in %s, not printed (the first %d payloads were)\n",
			b.total, took.Round(100*time.Millisecond), FullPayloads)
	}
	if b.flush != nil {
		b.flush.Stop()
	}
	s.burst = burst{}
}

// FlushSummary ends the burst if it has been quiet for BurstGap, printing
// its last counts. On the real clock (Now nil) a timer calls it.
func (s *Server) FlushSummary() {
	s.printMu.Lock()
	defer s.printMu.Unlock()
	s.flushLocked()
}

func (s *Server) flushLocked() {
	b := &s.burst
	if b.last.IsZero() {
		return
	}
	now := s.clock()
	if now.Sub(b.last) >= BurstGap {
		s.endBurst()
		return
	}
	if b.flush != nil {
		// Still arriving: look again once the gap could have passed.
		b.flush.Reset(BurstGap - now.Sub(b.last))
	}
}

func (s *Server) flushLater() { s.FlushSummary() }

func (s *Server) clock() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}
