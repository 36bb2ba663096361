//go:build race

package activation

// raceSlowdown scales the continuation tests under the race detector: its
// slower start, on a loaded machine, left 2 s and even 4 s slices no time to
// enqueue a page, so slices are this many times longer, and the shop's pages
// this many times slower so that a backfill still needs several slices.
const raceSlowdown = 4
