// Command bench measures the zkrecipes mutex side by side with its peers on
// the same ZooKeeper server, in one run: go-zookeeper's zk.Lock, Apache
// Curator's InterProcessMutex (a Java process), Kazoo's Lock (a Python
// process) and the raw request floor (create, list, delete). Each
// measurement has every contender on a session of its own; implementations
// take turns, in a different order each round, and the report gives medians
// over the rounds and the ratios the project's targets are stated in.
//
//	go run ./bench [-duration 2s] [-rounds 3] [-sessions 1,8,32,128] [-fsync on,off] [-out bench/results]
//
// It starts its own ZooKeeper (the test harness image) once with fsync on
// and once with forceSync=no, and writes results.md and results.csv.
package main

import (
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/zkrecipes/zkrecipes/integration/interop"
	"github.com/zkrecipes/zkrecipes/integration/zktest"
)

// row is one measurement.
type row struct {
	fsync        string
	impl         string
	sessions     int
	round        int
	acquisitions int
	perSecond    float64
	p50, p99     time.Duration
	requests     float64 // server requests per acquisition
}

func main() {
	duration := flag.Duration("duration", 2*time.Second, "length of one measurement")
	rounds := flag.Int("rounds", 3, "rounds (medians are reported)")
	sessionsFlag := flag.String("sessions", "1,8,32,128", "contending sessions to measure")
	fsyncFlag := flag.String("fsync", "on,off", "server fsync modes to run")
	out := flag.String("out", "bench/results", "directory for results.md and results.csv")
	flag.Parse()
	log.SetFlags(0)
	var sessions []int
	for _, f := range strings.Split(*sessionsFlag, ",") {
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			log.Fatalf("bad -sessions %q", *sessionsFlag)
		}
		sessions = append(sessions, n)
	}
	var rows []row
	for _, mode := range strings.Split(*fsyncFlag, ",") {
		r, err := measure(mode == "on", mode, sessions, *rounds, *duration)
		if err != nil {
			log.Fatal(err)
		}
		rows = append(rows, r...)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		log.Fatal(err)
	}
	if err := writeCSV(filepath.Join(*out, "results.csv"), rows); err != nil {
		log.Fatal(err)
	}
	report := markdown(rows, *duration, *rounds)
	if err := os.WriteFile(filepath.Join(*out, "results.md"), []byte(report), 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Print(report)
}

// measure runs every implementation on one fresh server.
func measure(fsync bool, mode string, sessions []int, rounds int, d time.Duration) ([]row, error) {
	ctx := context.Background()
	log.Printf("starting ZooKeeper (fsync %s)...", mode)
	c, err := zktest.Run(ctx, zktest.Image(), zktest.WithForceSync(fsync), zktest.Quiet())
	if c != nil {
		defer c.Terminate(context.Background())
	}
	if err != nil {
		return nil, err
	}
	servers, err := c.DirectServers(ctx)
	if err != nil {
		return nil, err
	}
	impls := goImpls(servers)
	for _, start := range []func(context.Context, string, *os.File) (*interop.Driver, error){
		func(ctx context.Context, connect string, w *os.File) (*interop.Driver, error) {
			return interop.StartCuratorDriver(ctx, connect, w)
		},
		func(ctx context.Context, connect string, w *os.File) (*interop.Driver, error) {
			return interop.StartKazooDriver(ctx, connect, w)
		},
	} {
		d, err := start(ctx, strings.Join(servers, ","), os.Stderr)
		if err != nil {
			return nil, err
		}
		defer d.Stop()
		impls = append(impls, driverImpl{d})
	}
	member := c.Members()[0]
	packets := func() int {
		stats, err := member.Mntr(ctx)
		if err != nil {
			return 0
		}
		n, _ := strconv.Atoi(stats["zk_packets_received"])
		return n
	}

	log.Printf("warming up...")
	for _, im := range impls {
		if _, err := im.run(ctx, "/bench/warm-up/"+im.name(), 1, time.Second); err != nil {
			return nil, fmt.Errorf("%s: %w", im.name(), err)
		}
	}
	var rows []row
	for round := range rounds {
		for _, n := range sessions {
			order := slices.Clone(impls)
			k := round % len(order)
			order = append(order[k:], order[:k]...) // nobody always goes first
			for _, im := range order {
				if im.name() == "raw-floor" && n > 1 {
					continue // not a lock: only its uncontended cost means anything
				}
				path := fmt.Sprintf("/bench/%s/%d/%d", im.name(), n, round)
				before := packets()
				res, err := im.run(ctx, path, n, d)
				if err != nil {
					return nil, fmt.Errorf("%s with %d sessions: %w", im.name(), n, err)
				}
				reqs := float64(packets()-before) / float64(max(res.n, 1))
				rows = append(rows, row{mode, im.name(), n, round, res.n, float64(res.n) / d.Seconds(), res.p50, res.p99, reqs})
				log.Printf("fsync %s round %d: %-12s %3d sessions: %6.0f acq/s, p50 %v, p99 %v, %.2f requests/acq",
					mode, round, im.name(), n, float64(res.n)/d.Seconds(), res.p50, res.p99, reqs)
			}
		}
	}
	return rows, nil
}

func writeCSV(path string, rows []row) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := csv.NewWriter(f)
	w.Write([]string{"fsync", "impl", "sessions", "round", "acquisitions", "acq_per_s", "p50_wait_us", "p99_wait_us", "requests_per_acq"})
	for _, r := range rows {
		w.Write([]string{r.fsync, r.impl, strconv.Itoa(r.sessions), strconv.Itoa(r.round), strconv.Itoa(r.acquisitions),
			strconv.FormatFloat(r.perSecond, 'f', 1, 64), strconv.FormatInt(r.p50.Microseconds(), 10),
			strconv.FormatInt(r.p99.Microseconds(), 10), strconv.FormatFloat(r.requests, 'f', 2, 64)})
	}
	w.Flush()
	return w.Error()
}
