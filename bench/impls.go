package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkrecipes/zkrecipes/integration/interop"
	"github.com/zkrecipes/zkrecipes/lock"
	"github.com/zkrecipes/zkrecipes/multilock"
	"github.com/zkrecipes/zkrecipes/recipes"
	"github.com/zkrecipes/zkrecipes/rwlock"
	"github.com/zkrecipes/zkrecipes/semaphore"
)

// Kinds of workload: an exclusive lock; read locks only; read locks with
// one write lock in ten.
const (
	mutexKind = "mutex"
	readKind  = "read"
	mixKind   = "mix"
	sem1Kind  = "semaphore-1" // a semaphore of 1 lease
	sem4Kind  = "semaphore-4" // a semaphore of 4 leases
	itemsKind = "items"       // a mutex per item, each acquisition on a random one
	multiKind = "multi"       // two mutexes of a few at once, a random pair each time
	// sharedKind is one mutex for contenders that share a session,
	// sharedPer to a session: a process's goroutines, the users' shape.
	sharedKind = "shared"
)

// sharedPer is how many contenders of the shared case share a session.
const sharedPer = 8

// multiPaths is how many mutexes the multi-lock case takes its pairs from.
const multiPaths = 8

// pick draws the items an acquisition of kind takes: one of items.paths
// for the per-item case, two of multiPaths (in path order, which every
// implementation takes them in) for the multi-lock case, none otherwise.
func pick(kind string) []int {
	switch kind {
	case itemsKind:
		return []int{rand.IntN(items.paths)}
	case multiKind:
		i := rand.IntN(multiPaths)
		j := (i + 1 + rand.IntN(multiPaths-1)) % multiPaths
		pair := []int{i, j}
		slices.SortFunc(pair, func(a, b int) int { return strings.Compare(itemPath("", a), itemPath("", b)) })
		return pair
	}
	return nil
}

// items is the per-item case's shape: how many lock paths, and how many
// acquisitions each session has in flight.
var items = struct{ paths, inFlight int }{1000, 4}

// itemPath returns the lock path of item i under path.
func itemPath(path string, i int) string { return fmt.Sprintf("%s/item-%d", path, i) }

// itemPaths returns the lock paths of the items a case of kind takes
// under path: the per-item and multi-lock cases'; none for the others,
// which lock path itself.
func itemPaths(kind, path string) []string {
	var n int
	switch kind {
	case itemsKind:
		n = items.paths
	case multiKind:
		n = multiPaths
	}
	paths := make([]string, n)
	for i := range paths {
		paths[i] = itemPath(path, i)
	}
	return paths
}

// leasesOf returns the maximum of a semaphore kind.
func leasesOf(kind string) int {
	if kind == sem4Kind {
		return 4
	}
	return 1
}

type result struct {
	n        int
	p50, p99 time.Duration
	cpu      float64 // the client's CPU µs per acquisition; 0: not measured
}

// impl is one implementation under test.
type impl interface {
	name() string
	supports(kind string) bool
	// run has n contenders, each on a session of its own, acquire and
	// release the lock at path for d. It calls mark once every contender
	// is connected and again once they have stopped, before they close:
	// the server's counters are read between the two.
	run(ctx context.Context, kind, path string, n int, d time.Duration, mark func()) (result, error)
}

// contender is one session's lock, or, for the per-item and multi-lock
// cases, its locks: acquire takes the write lock (or the read lock), of
// the items' paths for those cases (items is nil otherwise). It is safe for
// concurrent use by the per-item case's acquisitions in flight.
type contender struct {
	acquire func(write bool, items []int) (release func() error, err error)
	close   func()
}

// goImpl runs contenders in this process.
type goImpl struct {
	label string
	kinds []string
	make  func(ctx context.Context, kind, path string) (contender, error)
}

func (g goImpl) name() string              { return g.label }
func (g goImpl) supports(kind string) bool { return slices.Contains(g.kinds, kind) }

func (g goImpl) run(ctx context.Context, kind, path string, n int, d time.Duration, mark func()) (result, error) {
	loops := 1
	switch kind {
	case itemsKind:
		loops = items.inFlight
	case sharedKind:
		loops, n = sharedPer, max(n/sharedPer, 1)
	}
	cs := make([]contender, n)
	for i := range cs {
		c, err := g.make(ctx, kind, path)
		if err != nil {
			return result{}, err
		}
		defer c.close()
		cs[i] = c
	}
	var mu sync.Mutex
	var waits []time.Duration
	var errs []error
	mark()
	cpu := cpuTime()
	end := time.Now().Add(d)
	var wg sync.WaitGroup
	for _, c := range cs {
		for range loops {
			wg.Go(func() {
				var mine []time.Duration
				var err error
				for err == nil && time.Now().Before(end) {
					write := kind != readKind && (kind != mixKind || rand.IntN(10) == 0)
					t0 := time.Now()
					var release func() error
					if release, err = c.acquire(write, pick(kind)); err == nil {
						mine = append(mine, time.Since(t0))
						err = release()
					}
				}
				mu.Lock()
				defer mu.Unlock()
				waits = append(waits, mine...)
				if err != nil {
					errs = append(errs, err)
				}
			})
		}
	}
	wg.Wait()
	cpu = cpuTime() - cpu
	mark()
	if err := errors.Join(errs...); err != nil {
		return result{}, err
	}
	r := percentiles(waits)
	if r.n > 0 {
		r.cpu = float64(cpu.Microseconds()) / float64(r.n)
	}
	return r, nil
}

// cpuTime returns this process's CPU time so far, user and system: every
// goroutine's, the client library's own included.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func percentiles(waits []time.Duration) result {
	if len(waits) == 0 {
		return result{}
	}
	slices.Sort(waits)
	return result{n: len(waits), p50: waits[len(waits)/2], p99: waits[min(len(waits)-1, len(waits)*99/100)]}
}

// dial opens a go-zookeeper connection to servers and waits for its
// session (go-zookeeper drops the events nobody reads after that).
func dial(servers []string) (*zk.Conn, error) {
	c, events, err := zk.Connect(servers, 10*time.Second, zk.WithLogInfo(false), zk.WithLogger(nopLogger{}))
	if err != nil {
		return nil, err
	}
	timeout := time.After(time.Minute)
	for {
		select {
		case ev := <-events:
			if ev.State == zk.StateHasSession {
				return c, nil
			}
		case <-timeout:
			c.Close()
			return nil, fmt.Errorf("no session with %v within a minute", servers)
		}
	}
}

func goImpls(servers []string) []impl {
	acl := zk.WorldACL(zk.PermAll)
	conn := func() (*zk.Conn, error) { return dial(servers) }
	return []impl{
		goImpl{"zkrecipes", []string{mutexKind, readKind, mixKind, sem1Kind, sem4Kind, itemsKind, multiKind, sharedKind}, func(ctx context.Context, kind, path string) (contender, error) {
			s, err := recipes.Connect(ctx, servers)
			if err != nil {
				return contender{}, err
			}
			type hold interface{ Unlock(context.Context) error }
			var take func(write bool, items []int) (hold, error)
			switch kind {
			case sem1Kind, sem4Kind:
				m, err := semaphore.New(s, path, leasesOf(kind))
				if err != nil {
					return contender{}, err
				}
				take = func(bool, []int) (hold, error) { return m.Acquire(ctx) }
			case mutexKind, sharedKind: // one Mutex, shared by the session's contenders
				m, err := lock.New(s, path)
				if err != nil {
					return contender{}, err
				}
				take = func(bool, []int) (hold, error) { return m.Lock(ctx) }
			case itemsKind, multiKind: // a Mutex per item, made when first wanted
				ms := make([]*lock.Mutex, max(items.paths, multiPaths))
				var mu sync.Mutex
				mutex := func(i int) (*lock.Mutex, error) {
					mu.Lock()
					defer mu.Unlock()
					var err error
					if ms[i] == nil {
						ms[i], err = lock.New(s, itemPath(path, i))
					}
					return ms[i], err
				}
				take = func(_ bool, is []int) (hold, error) {
					if kind == itemsKind {
						m, err := mutex(is[0])
						if err != nil {
							return nil, err
						}
						return m.Lock(ctx)
					}
					var parts []multilock.Part
					for _, i := range is {
						m, err := mutex(i)
						if err != nil {
							return nil, err
						}
						parts = append(parts, multilock.Mutex(m))
					}
					return multilock.Lock(ctx, parts...)
				}
			default:
				m, err := rwlock.New(s, path)
				if err != nil {
					return contender{}, err
				}
				take = func(write bool, _ []int) (hold, error) {
					if write {
						return m.Lock(ctx)
					}
					return m.RLock(ctx)
				}
			}
			return contender{
				acquire: func(write bool, is []int) (func() error, error) {
					h, err := take(write, is)
					if err != nil {
						return nil, err
					}
					return func() error { return h.Unlock(ctx) }, nil
				},
				close: func() { s.Close() },
			}, nil
		}},
		goImpl{"go-zookeeper", []string{mutexKind, itemsKind, multiKind, sharedKind}, func(ctx context.Context, kind, path string) (contender, error) {
			c, err := conn()
			if err != nil {
				return contender{}, err
			}
			l := zk.NewLock(c, path, acl)
			return contender{
				acquire: func(_ bool, is []int) (func() error, error) {
					if kind == sharedKind { // a zk.Lock is one goroutine's
						l := zk.NewLock(c, path, acl)
						return l.Unlock, l.Lock()
					}
					if is == nil {
						return l.Unlock, l.Lock()
					}
					// A zk.Lock holds one acquisition's state. go-zookeeper
					// has no multi-lock: take them one by one, in order.
					var held []*zk.Lock
					unlock := func() error {
						var errs []error
						for _, l := range held {
							errs = append(errs, l.Unlock())
						}
						return errors.Join(errs...)
					}
					for _, i := range is {
						l := zk.NewLock(c, itemPath(path, i), acl)
						if err := l.Lock(); err != nil {
							return nil, errors.Join(err, unlock())
						}
						held = append(held, l)
					}
					return unlock, nil
				},
				close: c.Close,
			}, nil
		}},
		goImpl{"raw-floor", []string{mutexKind, itemsKind, sharedKind}, func(ctx context.Context, kind, path string) (contender, error) {
			c, err := conn()
			if err != nil {
				return contender{}, err
			}
			return contender{
				acquire: func(_ bool, is []int) (func() error, error) {
					path := path
					if kind == itemsKind {
						path = itemPath(path, is[0])
					}
					node, err := c.Create(path+"/n-", nil, zk.FlagEphemeral|zk.FlagSequence, acl) // the harness made path
					if err != nil {
						return nil, err
					}
					children, _, err := c.Children(path)
					if err != nil {
						return nil, err
					}
					if pred := predecessor(children, node[len(path)+1:]); pred != "" {
						err = awaitDeletion(c, path+"/"+pred)
					}
					return func() error { return c.Delete(node, -1) }, err
				},
				close: c.Close,
			}, nil
		}},
	}
}

// predecessor returns the child just ahead of node (names of one prefix
// and a sequence number sort by it), or "" if node is first.
func predecessor(children []string, node string) string {
	slices.Sort(children)
	if i := slices.Index(children, node); i > 0 {
		return children[i-1]
	}
	return ""
}

// awaitDeletion waits until the node at path is gone.
func awaitDeletion(c *zk.Conn, path string) error {
	_, _, w, err := c.GetW(path)
	switch {
	case errors.Is(err, zk.ErrNoNode):
		return nil
	case err != nil:
		return err
	}
	if ev := <-w; ev.Type != zk.EventNodeDeleted {
		return fmt.Errorf("watch on %s: %v", path, ev.Type)
	}
	return nil
}

// createAll creates path and its parents as persistent nodes.
func createAll(c *zk.Conn, path string, acl []zk.ACL) error {
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	for i := range parts {
		p := "/" + strings.Join(parts[:i+1], "/")
		if _, err := c.Create(p, nil, 0, acl); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return err
		}
	}
	return nil
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}

// driverImpl runs contenders in a peer's driver process.
type driverImpl struct{ d *interop.Driver }

func (di driverImpl) name() string { return di.d.Name() }

// supports leaves out Kazoo's mixed read-write workload (its ReadLock and
// WriteLock on one path hung there, no result within minutes, when tried)
// and its semaphore, whose layout is not Curator's.
func (di driverImpl) supports(kind string) bool {
	switch kind {
	case itemsKind:
		return true
	case multiKind: // Kazoo has no multi-lock
		return di.name() == "curator"
	case sharedKind: // the drivers run a session per contender
		return false
	}
	return di.name() != "kazoo" || (kind != mixKind && kind != sem1Kind && kind != sem4Kind)
}

func (di driverImpl) run(ctx context.Context, kind, path string, n int, d time.Duration, mark func()) (result, error) {
	ctx, cancel := context.WithTimeout(ctx, d+5*time.Minute)
	defer cancel()
	cmd := fmt.Sprintf("bench %s %s %d %d", kind, path, n, d.Milliseconds())
	switch kind {
	case itemsKind:
		cmd += fmt.Sprintf(" %d %d", items.paths, items.inFlight)
	case multiKind:
		cmd += fmt.Sprintf(" %d 1", multiPaths)
	}
	if err := di.d.Send(cmd); err != nil {
		return result{}, err
	}
	for _, step := range []struct{ wait, reply string }{{"started", "go"}, {"finished", "close"}} {
		if _, err := di.d.Expect(ctx, step.wait); err != nil {
			return result{}, err
		}
		mark()
		if err := di.d.Send(step.reply); err != nil {
			return result{}, err
		}
	}
	line, err := di.d.Expect(ctx, "result ")
	if err != nil {
		return result{}, err
	}
	return parseResult(line)
}

// parseResult parses a driver's "result N P50_US P99_US".
func parseResult(line string) (result, error) {
	f := strings.Fields(line)
	if len(f) != 4 || f[0] != "result" {
		return result{}, fmt.Errorf("bad result %q: want \"result N P50_US P99_US\"", line)
	}
	var v [3]int64
	for i := range v {
		n, err := strconv.ParseInt(f[i+1], 10, 64)
		if err != nil || n < 0 {
			return result{}, fmt.Errorf("bad result %q: field %d is not a count", line, i+1)
		}
		v[i] = n
	}
	if v[1] > v[2] {
		return result{}, fmt.Errorf("bad result %q: p50 above p99", line)
	}
	return result{n: int(v[0]), p50: time.Duration(v[1]) * time.Microsecond, p99: time.Duration(v[2]) * time.Microsecond}, nil
}
