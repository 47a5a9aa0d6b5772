package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkrecipes/zkrecipes/integration/interop"
	"github.com/zkrecipes/zkrecipes/lock"
	"github.com/zkrecipes/zkrecipes/recipes"
)

type result struct {
	n        int
	p50, p99 time.Duration
}

// impl is one implementation under test.
type impl interface {
	name() string
	// run has n contenders, each on a session of its own, acquire and
	// release the lock at path for d.
	run(ctx context.Context, path string, n int, d time.Duration) (result, error)
}

// cycle is one contender's acquire (timed) and release.
type cycle struct {
	acquire func() error
	release func() error
	close   func()
}

// goImpl runs contenders in this process.
type goImpl struct {
	label string
	make  func(ctx context.Context, path string) (cycle, error)
}

func (g goImpl) name() string { return g.label }

func (g goImpl) run(ctx context.Context, path string, n int, d time.Duration) (result, error) {
	cycles := make([]cycle, n)
	for i := range cycles {
		c, err := g.make(ctx, path)
		if err != nil {
			return result{}, err
		}
		defer c.close()
		cycles[i] = c
	}
	var mu sync.Mutex
	var waits []time.Duration
	var errs []error
	end := time.Now().Add(d)
	var wg sync.WaitGroup
	for _, c := range cycles {
		wg.Go(func() {
			var mine []time.Duration
			for time.Now().Before(end) {
				t0 := time.Now()
				if err := c.acquire(); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				mine = append(mine, time.Since(t0))
				if err := c.release(); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
			}
			mu.Lock()
			waits = append(waits, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
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
		goImpl{"zkrecipes", func(ctx context.Context, path string) (cycle, error) {
			s, err := recipes.Connect(ctx, servers)
			if err != nil {
				return cycle{}, err
			}
			m, err := lock.New(s, path)
			if err != nil {
				return cycle{}, err
			}
			var h *lock.Hold
			return cycle{
				acquire: func() (err error) { h, err = m.Lock(ctx); return err },
				release: func() error { return h.Unlock(ctx) },
				close:   func() { s.Close() },
			}, nil
		}},
		goImpl{"go-zookeeper", func(ctx context.Context, path string) (cycle, error) {
			c, err := conn()
			if err != nil {
				return cycle{}, err
			}
			l := zk.NewLock(c, path, acl)
			return cycle{acquire: l.Lock, release: l.Unlock, close: c.Close}, nil
		}},
		goImpl{"raw-floor", func(ctx context.Context, path string) (cycle, error) {
			c, err := conn()
			if err != nil {
				return cycle{}, err
			}
			if err := createAll(c, path, acl); err != nil {
				return cycle{}, err
			}
			var node string
			return cycle{
				acquire: func() (err error) {
					if node, err = c.Create(path+"/n-", nil, zk.FlagEphemeral|zk.FlagSequence, acl); err != nil {
						return err
					}
					_, _, err = c.Children(path)
					return err
				},
				release: func() error { return c.Delete(node, -1) },
				close:   c.Close,
			}, nil
		}},
	}
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

func (di driverImpl) run(ctx context.Context, path string, n int, d time.Duration) (result, error) {
	if err := di.d.Send(fmt.Sprintf("bench mutex %s %d %d", path, n, d.Milliseconds())); err != nil {
		return result{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, d+5*time.Minute)
	defer cancel()
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
