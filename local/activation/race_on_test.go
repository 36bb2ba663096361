//go:build race

package activation

// raceSlowdown is how much longer the continuation tests' slices are under
// the race detector: its slower start left a 2 s slice no time to enqueue a
// page. The shops stay large enough to need several slices.
const raceSlowdown = 2
