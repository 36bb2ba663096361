package activate

import "runtime/debug"

// Garbage collection of the activate function. A backfill allocates fast
// (the SQS client's request buffers come to about fifteen times the order
// bytes it queues) over a small live heap (the pages in flight: under 10 MB
// with orders of a few KB), so at Go's default GOGC of 100 it collects
// some 36 times a second. Twice the headroom cuts the backfill's CPU time
// by about a fifth for a few MB of peak RSS (BenchmarkBackfill, 100,000
// orders: 10.4–11.3 s → 8.0–8.4 s of CPU, 44–48 → 54–55 MB). The soft
// limit, below the function's 256 MB, makes the collector work harder
// before a backfill of very large orders would run out of memory.
const (
	GCPercent   = 200
	MemoryLimit = 200 << 20
)

// TuneGC applies GCPercent and MemoryLimit to this process. The activate
// function's main calls it at cold start.
func TuneGC() {
	debug.SetGCPercent(GCPercent)
	debug.SetMemoryLimit(MemoryLimit)
}
