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
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkrecipes/zkrecipes/integration/interop"
	"github.com/zkrecipes/zkrecipes/lock"
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
)

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

// contender is one session's lock.
type contender struct {
	acquire func(write bool) (release func() error, err error)
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
	end := time.Now().Add(d)
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Go(func() {
			var mine []time.Duration
			var err error
			for err == nil && time.Now().Before(end) {
				write := kind == mutexKind || (kind == mixKind && rand.IntN(10) == 0)
				t0 := time.Now()
				var release func() error
				if release, err = c.acquire(write); err == nil {
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
	wg.Wait()
	mark()
	if err := errors.Join(errs...); err != nil {
		return result{}, err
	}
	return percentiles(waits), nil
}

func percentiles(waits []time.Duration) result {
	if len(waits) == 0 {
		return result{}
	}
	slices.Sort(waits)
	return result{len(waits), waits[len(waits)/2], waits[min(len(waits)-1, len(waits)*99/100)]}
}

func goImpls(servers []string) []impl {
	acl := zk.WorldACL(zk.PermAll)
	conn := func() (*zk.Conn, error) {
		c, _, err := zk.Connect(servers, 10*time.Second, zk.WithLogInfo(false), zk.WithLogger(nopLogger{}))
		if err != nil {
			return nil, err
		}
		for c.State() != zk.StateHasSession {
			time.Sleep(time.Millisecond)
		}
		return c, nil
	}
	return []impl{
		goImpl{"zkrecipes", []string{mutexKind, readKind, mixKind, sem1Kind, sem4Kind}, func(ctx context.Context, kind, path string) (contender, error) {
			s, err := recipes.Connect(ctx, servers)
			if err != nil {
				return contender{}, err
			}
			type hold interface{ Unlock(context.Context) error }
			var take func(write bool) (hold, error)
			switch kind {
			case sem1Kind, sem4Kind:
				m, err := semaphore.New(s, path, leasesOf(kind))
				if err != nil {
					return contender{}, err
				}
				take = func(bool) (hold, error) { return m.Acquire(ctx) }
			case mutexKind:
				m, err := lock.New(s, path)
				if err != nil {
					return contender{}, err
				}
				take = func(bool) (hold, error) { return m.Lock(ctx) }
			default:
				m, err := rwlock.New(s, path)
				if err != nil {
					return contender{}, err
				}
				take = func(write bool) (hold, error) {
					if write {
						return m.Lock(ctx)
					}
					return m.RLock(ctx)
				}
			}
			return contender{
				acquire: func(write bool) (func() error, error) {
					h, err := take(write)
					if err != nil {
						return nil, err
					}
					return func() error { return h.Unlock(ctx) }, nil
				},
				close: func() { s.Close() },
			}, nil
		}},
		goImpl{"go-zookeeper", []string{mutexKind}, func(ctx context.Context, _, path string) (contender, error) {
			c, err := conn()
			if err != nil {
				return contender{}, err
			}
			l := zk.NewLock(c, path, acl)
			return contender{
				acquire: func(bool) (func() error, error) { return l.Unlock, l.Lock() },
				close:   c.Close,
			}, nil
		}},
		goImpl{"raw-floor", []string{mutexKind}, func(ctx context.Context, _, path string) (contender, error) {
			c, err := conn()
			if err != nil {
				return contender{}, err
			}
			if err := createAll(c, path, acl); err != nil {
				return contender{}, err
			}
			return contender{
				acquire: func(bool) (func() error, error) {
					node, err := c.Create(path+"/n-", nil, zk.FlagEphemeral|zk.FlagSequence, acl)
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
	return di.name() != "kazoo" || (kind != mixKind && kind != sem1Kind && kind != sem4Kind)
}

func (di driverImpl) run(ctx context.Context, kind, path string, n int, d time.Duration, mark func()) (result, error) {
	ctx, cancel := context.WithTimeout(ctx, d+5*time.Minute)
	defer cancel()
	if err := di.d.Send(fmt.Sprintf("bench %s %s %d %d", kind, path, n, d.Milliseconds())); err != nil {
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
	f := strings.Fields(line)
	if len(f) != 4 {
		return result{}, fmt.Errorf("bad result %q", line)
	}
	count, _ := strconv.Atoi(f[1])
	p50, _ := strconv.ParseInt(f[2], 10, 64)
	p99, _ := strconv.ParseInt(f[3], 10, 64)
	return result{count, time.Duration(p50) * time.Microsecond, time.Duration(p99) * time.Microsecond}, nil
}
