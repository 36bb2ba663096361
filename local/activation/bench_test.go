package activation

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/logistos-sync/logistos-sync/local/fakewoo"
	"github.com/logistos-sync/logistos-sync/local/stack"
	"github.com/logistos-sync/logistos-sync/shared/activate"
	"github.com/logistos-sync/logistos-sync/shared/config"
	"github.com/logistos-sync/logistos-sync/shared/logging"
	"github.com/logistos-sync/logistos-sync/shared/metrics"
	"github.com/logistos-sync/logistos-sync/shared/wooapi"
)

// childEnv makes the test binary run one backfill (benchChild) instead of
// the tests: the benchmark measures that process's memory on its own,
// apart from kumo and the stand-in shop.
const childEnv = "LOGISTOS_BACKFILL_BENCH_CHILD"

// shopEnv makes the test binary serve a stand-in shop of that many orders
// (benchShop) instead of running the tests.
const shopEnv = "LOGISTOS_BACKFILL_BENCH_SHOP"

// childProfileEnv, set in the benchmark's environment, makes each child
// write its CPU profile to that path: -cpuprofile profiles the parent,
// whose share is the stand-in shop and kumo.
const childProfileEnv = "LOGISTOS_BACKFILL_BENCH_CPUPROFILE"

// Benchmark conditions: a shop that takes pageLatency to build each page,
// fetched benchConcurrency pages at a time.
const (
	pageLatency      = 50 * time.Millisecond
	benchConcurrency = 4
)

// BenchmarkBackfill backfills shops of 10,000 and 100,000 orders from the
// stand-in shop (50 ms per page, 4 pages at a time) into the embedded kumo
// queue, with the backfill and the shop each in a process of its own (a
// real shop is on another machine: sharing Go's scheduler with kumo, which
// decodes every order the backfill sends, made its 50 ms pages take 55). It reports the
// backfill's wall time (s-backfill) against the bound set by the shop alone,
// pages × 50 ms ÷ 4 (s-bound, x-bound), that process's CPU time and peak
// RSS, and, measured in the same iteration just before the backfill, how
// long reading every page 4 at a time and nothing else takes on this
// machine now (s-shop-alone, x-shop-alone = s-backfill ÷ it): on a busy
// machine the stand-in shop itself falls behind its 50 ms, and this tells
// that apart from the backfill's own overhead.
func BenchmarkBackfill(b *testing.B) {
	// This process is kumo (whose SQS and DynamoDB run on other machines
	// in AWS): collecting its garbage less often leaves more of a shared
	// machine to the backfill measured.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("orders=%d", n), func(b *testing.B) {
			shopURL := startShop(b, n)
			pages := (n + activate.PerPage - 1) / activate.PerPage
			bound := time.Duration(pages) * pageLatency / benchConcurrency
			var wall, proc, cpu, alone time.Duration
			var rss int64
			runs := 0
			for b.Loop() {
				st := fork(b)
				// The state and the ledger in DynamoDB, as deployed: an
				// in-memory ledger would hold every order in the process.
				runs++
				stateTable, ledgerTable := fmt.Sprintf("bench-state-%d-%d", n, runs), fmt.Sprintf("bench-ledger-%d-%d", n, runs)
				if err := st.EnsureTables(context.Background(), stateTable, ledgerTable); err != nil {
					b.Fatal(err)
				}
				vars := st.FunctionEnv(stack.Activate, map[string]string{
					childEnv: "1", "STORE_URL": shopURL, "STATE_TABLE": stateTable, "LEDGER_TABLE": ledgerTable,
					"WOO_CONSUMER_KEY": fakewoo.Key, "WOO_CONSUMER_SECRET": fakewoo.Secret, "WEBHOOK_URL": webhookURL,
					"BACKFILL_CONCURRENCY": fmt.Sprint(benchConcurrency),
				})
				alone += readShop(b, shopURL, pages)
				rep, elapsed, used, peak, err := runChild(vars)
				if err != nil {
					b.Fatal(err)
				}
				if rep.Backfill == nil || rep.Backfill.Outcome != activate.OutcomeComplete || rep.Backfill.OrdersEnqueued != int64(n) {
					b.Fatalf("backfill: %+v", rep.Backfill)
				}
				wall += time.Duration(rep.Backfill.DurationMS) * time.Millisecond
				proc += elapsed
				cpu += used
				rss = max(rss, peak)
				b.StopTimer()
				_, _ = st.SQS.PurgeQueue(context.Background(), &sqs.PurgeQueueInput{QueueUrl: &st.BackfillQueueURL})
				b.StartTimer()
			}
			avg := wall / time.Duration(runs)
			b.ReportMetric(avg.Seconds(), "s-backfill")
			b.ReportMetric(bound.Seconds(), "s-bound")
			b.ReportMetric(float64(avg)/float64(bound), "x-bound")
			b.ReportMetric((alone / time.Duration(runs)).Seconds(), "s-shop-alone")
			b.ReportMetric(float64(avg)/float64(alone/time.Duration(runs)), "x-shop-alone")
			b.ReportMetric((proc / time.Duration(runs)).Seconds(), "s-process")
			b.ReportMetric((cpu / time.Duration(runs)).Seconds(), "s-cpu-process")
			b.ReportMetric(float64(rss)/1024, "MB-peak-rss")
		})
	}
}

// startShop runs benchShop in a child process until the benchmark ends and
// returns its URL.
func startShop(b *testing.B, n int) (url string) {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), shopEnv+"="+strconv.Itoa(n))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = stdin.Close(); _ = cmd.Wait() })
	if _, err := fmt.Fscanln(stdout, &url); err != nil {
		b.Fatalf("stand-in shop process: %v", err)
	}
	return url
}

// benchShop is the shop's process: it prints the shop's URL and serves it
// until its standard input closes (the benchmark ended, or died).
func benchShop() int {
	n, err := strconv.Atoi(os.Getenv(shopEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	shop := fakewoo.Start(fakewoo.Options{Orders: n, Latency: pageLatency})
	defer shop.Close()
	fmt.Println(shop.URL)
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

// readShop reads pages 1..pages of the shop at url, benchConcurrency at a
// time, with the client the backfill uses and the backfill's query, and
// nothing else; it returns how long that took.
func readShop(b *testing.B, url string, pages int) time.Duration {
	b.Helper()
	shop, err := wooapi.NewClient(wooapi.NewHTTPClient(true), url, wooapi.Key{ConsumerKey: fakewoo.Key, ConsumerSecret: fakewoo.Secret})
	if err != nil {
		b.Fatal(err)
	}
	before := time.Now().Add(time.Minute)
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range benchConcurrency {
		wg.Go(func() {
			for p := int(next.Add(1)); p <= pages; p = int(next.Add(1)) {
				_, err := shop.ListOrders(context.Background(), wooapi.OrdersQuery{Page: p, PerPage: activate.PerPage,
					Status: []string{wooapi.StatusAny}, Before: before, OrderBy: "id", Order: "asc"})
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}

// childResult is what the child prints.
type childResult struct {
	Report     activate.Report `json:"report"`
	PeakRSSKiB int64           `json:"peak_rss_kib"`
}

// runChild runs one backfill in a child process and returns its report,
// its wall time, the CPU time it used and its peak resident set in KiB. The peak is the child's
// own VmHWM: the rusage of a child is no good here, because Linux carries
// the parent's high-water mark into it at exec (the child still shares the
// parent's memory then), and the parent holds kumo's queues.
func runChild(vars map[string]string) (activate.Report, time.Duration, time.Duration, int64, error) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), childProfileEnv + "=" + os.Getenv(childProfileEnv)}
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stderr = io.Discard
	start := time.Now()
	out, err := cmd.Output()
	elapsed := time.Since(start)
	var res childResult
	if err != nil {
		return res.Report, 0, 0, 0, fmt.Errorf("backfill process: %w: %s", err, out)
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return res.Report, 0, 0, 0, fmt.Errorf("backfill report %q: %w", out, err)
	}
	used := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return res.Report, elapsed, used, res.PeakRSSKiB, nil
}

// peakRSS reads this process's VmHWM from /proc, in KiB.
func peakRSS() (int64, error) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/self/status")
}

// benchChild is the child process: the activate function's wiring from its
// environment (functions/activate's run), one backfill, the report on
// stdout.
func benchChild() int {
	activate.TuneGC()
	ctx := context.Background()
	if path := os.Getenv(childProfileEnv); path != "" {
		f, err := os.Create(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	cfg, err := config.LoadActivate(config.FromOS())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	aws, err := config.AWS(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	h, err := activate.New(cfg, aws, logging.New(os.Stderr, "info"), metrics.New(io.Discard, "bench"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	rep, err := h.Handle(ctx, activate.Event{Steps: []string{activate.StepBackfill}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	hwm, err := peakRSS()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	_ = json.NewEncoder(os.Stdout).Encode(childResult{Report: rep, PeakRSSKiB: hwm})
	return 0
}
