// Command bench measures zkrecipes side by side with its peers on the same
// ZooKeeper server, in one run: the mutex against go-zookeeper's zk.Lock,
// Apache Curator's InterProcessMutex (a Java process), Kazoo's Lock (a
// Python process) and the raw request floor (create, list, wait for the
// node just ahead to go, delete: the least any queue lock sends); the
// read-write lock against Curator's InterProcessReadWriteLock and Kazoo's
// ReadLock/WriteLock; the semaphore (max 1 and 4) against Curator's
// InterProcessSemaphoreV2; the per-item case (one lock per item of 1,000,
// each acquisition on a random one, a few in flight per session) against
// all of the mutexes; the multi-lock (two mutexes of 8 at once) against
// Curator's InterProcessMultiLock and two go-zookeeper locks taken in
// order; and the election's hand-over times. Each measurement
// has every contender on a session of its own; implementations take turns,
// in a different order each round, and the report gives medians over the
// rounds and the ratios the project's targets are stated in, with the
// client's CPU time per acquisition for the implementations in this
// process.
//
//	go run . [-duration 2s] [-rounds 3] [-sessions 1,8,32,128] [-readers 1,8,32] [-mix 8,32] [-semaphore 8,32] [-items 32] [-paths 1000] [-inflight 4] [-multi 8,32] [-setups on,off,ensemble] [-impls zkrecipes,curator] [-out results]
//
// It starts its own ZooKeeper (the test harness image) for each setup: one
// server with fsync on (on), one with forceSync=no (off), and a 3-node
// ensemble with fsync on (ensemble), whose clients each pick a member at
// random, as every one of these client libraries does. It writes
// results.md, results.csv and a mutex plot per setup (mutex-on.png, ...).
package main

import (
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/testcontainers/testcontainers-go"

	"github.com/zkrecipes/zkrecipes/integration/interop"
	"github.com/zkrecipes/zkrecipes/integration/zktest"
)

// row is one measurement.
type row struct {
	fsync        string // the setup: on, off, ensemble
	kind         string // mutexKind, readKind, mixKind, ...
	impl         string
	sessions     int
	round        int
	acquisitions int
	perSecond    float64
	p50, p99     time.Duration
	requests     float64 // server requests per acquisition
	events       float64 // watch events the server sent per acquisition
	cpu          float64 // the client's CPU µs per acquisition; 0: not measured (a driver's)
}

type scenario struct {
	kind     string
	sessions int
}

func main() {
	duration := flag.Duration("duration", 2*time.Second, "length of one measurement")
	rounds := flag.Int("rounds", 3, "rounds (medians are reported)")
	mutexFlag := flag.String("sessions", "1,8,32,128", "contending sessions for the mutex")
	readFlag := flag.String("readers", "1,8,32", "sessions taking read locks only")
	mixFlag := flag.String("mix", "8,32", "sessions taking read locks, and write locks one time in ten")
	semFlag := flag.String("semaphore", "8,32", "sessions taking leases of semaphores of 1 and of 4")
	itemsFlag := flag.String("items", "32", "sessions each locking random items of -paths, -inflight at a time")
	multiFlag := flag.String("multi", "8,32", "sessions each locking two mutexes of 8 at once, a random pair each time")
	sharedFlag := flag.String("shared", "32", "contenders for one mutex, 8 to a session (the Go implementations only)")
	flag.IntVar(&items.paths, "paths", 1000, "lock paths (items) of the per-item case")
	flag.IntVar(&items.inFlight, "inflight", 4, "acquisitions in flight per session in the per-item case")
	handovers := flag.Int("handovers", 40, "election hand-overs measured per kind")
	setupsFlag := flag.String("setups", "on,off,ensemble", "servers to run: one with fsync on, one with fsync off, a 3-node ensemble with fsync on")
	out := flag.String("out", "results", "directory for the results")
	replot := flag.Bool("replot", false, "only redraw the plots from the results.csv in -out")
	only := flag.String("impls", "", "measure only these implementations (comma-separated names; default all)")
	cpuProfile := flag.String("cpuprofile", "", "write this process's CPU profile (the Go implementations') to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	log.SetFlags(0)
	if *replot {
		rows, err := readCSV(filepath.Join(*out, "results.csv"))
		if err != nil {
			log.Fatal(err)
		}
		if err := plotAll(*out, summarise(rows)); err != nil {
			log.Fatal(err)
		}
		return
	}
	var scenarios []scenario
	for kind, f := range map[string]string{mutexKind: *mutexFlag, readKind: *readFlag, mixKind: *mixFlag, sem1Kind: *semFlag, sem4Kind: *semFlag, itemsKind: *itemsFlag, multiKind: *multiFlag, sharedKind: *sharedFlag} {
		for _, n := range ints(f) {
			scenarios = append(scenarios, scenario{kind, n})
		}
	}
	slices.SortFunc(scenarios, func(a, b scenario) int {
		return cmpKinds(a.kind, b.kind)*1000 + (a.sessions - b.sessions)
	})
	var rows []row
	var elections []handover
	for _, mode := range strings.Split(*setupsFlag, ",") {
		if !slices.Contains(setups, mode) {
			log.Fatalf("-setups: no setup named %q (have %v)", mode, setups)
		}
		r, e, err := measure(mode, scenarios, *rounds, *duration, *handovers, *only)
		if err != nil {
			log.Fatal(err)
		}
		rows, elections = append(rows, r...), append(elections, e...)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		log.Fatal(err)
	}
	if err := writeCSV(filepath.Join(*out, "results.csv"), rows); err != nil {
		log.Fatal(err)
	}
	s := summarise(rows)
	if err := plotAll(*out, s); err != nil {
		log.Fatal(err)
	}
	report := markdown(s, elections, *duration, *rounds)
	if err := os.WriteFile(filepath.Join(*out, "results.md"), []byte(report), 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Print(report)
}

func ints(list string) []int {
	var out []int
	for _, f := range strings.Split(list, ",") {
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			log.Fatalf("bad session count %q", f)
		}
		out = append(out, n)
	}
	return out
}

func cmpKinds(a, b string) int {
	order := []string{mutexKind, sharedKind, itemsKind, multiKind, readKind, mixKind, sem1Kind, sem4Kind}
	return slices.Index(order, a) - slices.Index(order, b)
}

// The setups measured: one server with fsync on or off, and a 3-node
// ensemble with fsync on.
var setups = []string{"on", "off", "ensemble"}

// setupLabel describes a setup in the report.
func setupLabel(mode string) string {
	switch mode {
	case "ensemble":
		return "3-node ensemble, fsync on"
	case "off":
		return "one server, fsync off"
	}
	return "one server, fsync on"
}

// measure runs every scenario for every implementation on one fresh
// server (or ensemble), then the election hand-overs.
func measure(mode string, scenarios []scenario, rounds int, d time.Duration, handovers int, only string) ([]row, []handover, error) {
	ctx := context.Background()
	log.Printf("starting ZooKeeper (%s)...", setupLabel(mode))
	// The server's own container reaper interval (a minute), not the test
	// harness's quarter second: an item's lock path emptied for a moment
	// is not deleted under its next contender, as it is not in production.
	opts := []testcontainers.ContainerCustomizer{zktest.WithForceSync(mode != "off"), zktest.Quiet(),
		zktest.WithContainerCheckInterval(time.Minute)}
	if mode == "ensemble" {
		opts = append(opts, zktest.WithEnsemble(3))
	}
	c, err := zktest.Run(ctx, zktest.Image(), opts...)
	if c != nil {
		defer c.Terminate(context.Background())
	}
	if err != nil {
		return nil, nil, err
	}
	servers, err := c.DirectServers(ctx)
	if err != nil {
		return nil, nil, err
	}
	// Each lock path (every item's, in the per-item case) is made before
	// its contenders start, as in a service that has run a while: the
	// measurement is of taking locks, not of contenders racing to create
	// their parents (with 128 contenders on the ensemble, that was a fifth
	// of the requests of a 2 s round; in the per-item case on the
	// ensemble, most acquisitions were their item's first).
	admin, err := dial(servers)
	if err != nil {
		return nil, nil, err
	}
	defer admin.Close()
	prepare := func(kind, path string) error {
		acl := zk.WorldACL(zk.PermAll)
		if err := createAll(admin, path, acl); err != nil {
			return err
		}
		items := itemPaths(kind, path)
		errs := make([]error, len(items))
		var wg sync.WaitGroup
		slots := make(chan struct{}, 16) // requests in flight on the connection
		for i, p := range items {
			slots <- struct{}{}
			wg.Go(func() {
				defer func() { <-slots }()
				if _, err := admin.Create(p, nil, 0, acl); err != nil && !errors.Is(err, zk.ErrNodeExists) {
					errs[i] = err
				}
			})
		}
		wg.Wait()
		return errors.Join(errs...)
	}
	impls := goImpls(servers)
	for _, start := range []func(context.Context, string, io.Writer) (*interop.Driver, error){
		interop.StartCuratorDriver, interop.StartKazooDriver,
	} {
		d, err := start(ctx, strings.Join(servers, ","), os.Stderr)
		if err != nil {
			return nil, nil, err
		}
		defer d.Stop()
		impls = append(impls, driverImpl{d})
	}
	if only != "" {
		names := strings.Split(only, ",")
		for _, n := range names {
			if !slices.ContainsFunc(impls, func(im impl) bool { return im.name() == n }) {
				return nil, nil, fmt.Errorf("-impls: no implementation named %q", n)
			}
		}
		impls = slices.DeleteFunc(impls, func(im impl) bool { return !slices.Contains(names, im.name()) })
	}
	// Requests the clients sent and watch events the servers sent them,
	// summed over the members: a member counts what its own clients do.
	traffic := func() serverCounts {
		var total serverCounts
		for _, m := range c.Members() {
			stats, err := m.Mntr(ctx)
			if err != nil {
				return serverCounts{}
			}
			total = total.plus(countsOf(stats))
		}
		return total
	}

	// The server (and Curator's JVM) compile their hot paths in the first
	// seconds: warm up with some contention, or whoever goes first in
	// round 0 measures the compiler.
	log.Printf("warming up...")
	for _, im := range impls {
		for _, kind := range []string{mutexKind, readKind} {
			if im.supports(kind) {
				path := "/bench/warm-up/" + kind + "/" + im.name()
				if err := prepare(kind, path); err != nil {
					return nil, nil, err
				}
				if _, err := im.run(ctx, kind, path, 8, 2*time.Second, func() {}); err != nil {
					return nil, nil, fmt.Errorf("%s: %w", im.name(), err)
				}
			}
		}
	}
	var rows []row
	for round := range rounds {
		for _, sc := range scenarios {
			order := slices.Clone(impls)
			k := round % len(order)
			order = append(order[k:], order[:k]...) // nobody always goes first
			for _, im := range order {
				if !im.supports(sc.kind) {
					continue
				}
				path := fmt.Sprintf("/bench/%s/%s/%d/%d", sc.kind, im.name(), sc.sessions, round)
				if err := prepare(sc.kind, path); err != nil {
					return nil, nil, err
				}
				var counts []serverCounts
				res, err := im.run(ctx, sc.kind, path, sc.sessions, d, func() { counts = append(counts, traffic()) })
				if err != nil {
					return nil, nil, fmt.Errorf("%s %s with %d sessions: %w", im.name(), sc.kind, sc.sessions, err)
				}
				reqs, events := counts[1].minus(counts[0]).per(res.n)
				r := row{mode, sc.kind, im.name(), sc.sessions, round, res.n, float64(res.n) / d.Seconds(), res.p50, res.p99, reqs, events, res.cpu}
				rows = append(rows, r)
				log.Printf("%s round %d: %-5s %-12s %3d sessions: %6.0f acq/s, p50 %v, p99 %v, %.2f requests/acq, %.2f watch events/acq, %.0f cpu-us/acq",
					mode, round, sc.kind, im.name(), sc.sessions, r.perSecond, res.p50, res.p99, reqs, events, res.cpu)
			}
		}
	}
	log.Printf("election hand-overs...")
	e, err := elections(ctx, mode, servers, handovers)
	if err != nil {
		return nil, nil, err
	}
	for _, im := range impls {
		if di, ok := im.(driverImpl); ok {
			de, err := di.elections(ctx, mode, handovers)
			if err != nil {
				return nil, nil, fmt.Errorf("%s election: %w", di.name(), err)
			}
			e = append(e, de...)
		}
	}
	return rows, e, nil
}

func writeCSV(path string, rows []row) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := csv.NewWriter(f)
	w.Write([]string{"setup", "kind", "impl", "sessions", "round", "acquisitions", "acq_per_s", "p50_wait_us", "p99_wait_us", "requests_per_acq", "watch_events_per_acq", "cpu_us_per_acq"})
	for _, r := range rows {
		w.Write([]string{r.fsync, r.kind, r.impl, strconv.Itoa(r.sessions), strconv.Itoa(r.round), strconv.Itoa(r.acquisitions),
			strconv.FormatFloat(r.perSecond, 'f', 1, 64), strconv.FormatInt(r.p50.Microseconds(), 10),
			strconv.FormatInt(r.p99.Microseconds(), 10), strconv.FormatFloat(r.requests, 'f', 2, 64),
			strconv.FormatFloat(r.events, 'f', 2, 64), strconv.FormatFloat(r.cpu, 'f', 1, 64)})
	}
	w.Flush()
	return w.Error()
}

// readCSV reads what writeCSV wrote.
func readCSV(path string) ([]row, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parseCSV(f)
}

// parseCSV parses what writeCSV wrote; a malformed record is an error
// that names its line.
func parseCSV(r io.Reader) ([]row, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = 12
	recs, err := cr.ReadAll()
	if err != nil {
		return nil, err
	}
	var rows []row
	for i, r := range recs {
		if i == 0 {
			continue // the header
		}
		var ints [3]int
		var floats [4]float64
		var us [2]int64
		var errs []error
		for j, k := range []int{3, 4, 5} {
			ints[j], err = strconv.Atoi(r[k])
			errs = append(errs, err)
		}
		for j, k := range []int{6, 9, 10, 11} {
			floats[j], err = strconv.ParseFloat(r[k], 64)
			errs = append(errs, err)
		}
		for j, k := range []int{7, 8} {
			us[j], err = strconv.ParseInt(r[k], 10, 64)
			errs = append(errs, err)
		}
		if err := errors.Join(errs...); err != nil {
			return nil, fmt.Errorf("results line %d: %w", i+1, err)
		}
		rows = append(rows, row{r[0], r[1], r[2], ints[0], ints[1], ints[2], floats[0],
			time.Duration(us[0]) * time.Microsecond, time.Duration(us[1]) * time.Microsecond, floats[1], floats[2], floats[3]})
	}
	return rows, nil
}
