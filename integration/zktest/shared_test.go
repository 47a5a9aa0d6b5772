package zktest

// These tests need no Docker: they stand a starter that counts its calls
// in for Run, to check that the cluster of RunTests starts on first use,
// once, and never when unused.

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var errNoDocker = errors.New("no Docker here")

type runFunc func() int

func (f runFunc) Run() int { return f() }

// starter starts clusters for runShared and counts the starts. Its fail
// records the error and ends the goroutine that used the cluster, as the
// panic of RunTests ends the test.
type starter struct {
	cluster  *Cluster // what a start returns; nil: it fails with errNoDocker
	starts   atomic.Int32
	failures chan error
}

func newStarter(c *Cluster) *starter { return &starter{cluster: c, failures: make(chan error, 64)} }

func (s *starter) start() (*Cluster, error) {
	s.starts.Add(1)
	if s.cluster == nil {
		return nil, errNoDocker
	}
	return s.cluster, nil
}

func (s *starter) fail(err error) {
	s.failures <- err
	runtime.Goexit()
}

// failure returns the next error handed to fail.
func (s *starter) failure(t *testing.T) error {
	t.Helper()
	select {
	case err := <-s.failures:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("no failure reported")
		return nil
	}
}

// use runs f in a goroutine of its own and reports whether f returned.
func use(f func()) bool {
	returned := false
	var wg sync.WaitGroup
	wg.Go(func() {
		f()
		returned = true
	})
	wg.Wait()
	return returned
}

func TestSharedClusterDoesNotStartWhenNoTestUsesIt(t *testing.T) {
	s := newStarter(nil)
	var c *Cluster
	code := runShared(runFunc(func() int {
		assert.NotNil(t, c)
		return 3
	}), &c, s.start, s.fail)
	assert.Equal(t, 3, code, "the tests' exit code")
	assert.Zero(t, s.starts.Load())
	assert.Empty(t, s.failures, "nothing fails for want of a cluster that no test used")

	// Once the tests have ended, nothing starts a cluster that nothing
	// would terminate.
	assert.False(t, use(func() { c.Servers() }))
	assert.ErrorContains(t, s.failure(t), "after its tests ended")
	assert.Zero(t, s.starts.Load())
}

func TestSharedClusterStartsOnFirstUseOfAnyMethodAndFailsEveryUseIfItCannot(t *testing.T) {
	ctx := context.Background()
	uses := map[string]func(c *Cluster){
		"Members":       func(c *Cluster) { c.Members() },
		"Servers":       func(c *Cluster) { c.Servers() },
		"ConnectString": func(c *Cluster) { _ = c.ConnectString() },
		"DirectServers": func(c *Cluster) { c.DirectServers(ctx) },
		"WaitServing":   func(c *Cluster) { c.WaitServing(ctx) },
		"Leader":        func(c *Cluster) { c.Leader(ctx) },
		"NewProxy":      func(c *Cluster) { c.NewProxy() },
		"ExpireSession": func(c *Cluster) { c.ExpireSession(ctx, 1) },
	}
	for name, f := range uses {
		t.Run(name, func(t *testing.T) {
			s := newStarter(nil)
			var c *Cluster
			runShared(runFunc(func() int {
				require.Zero(t, s.starts.Load(), "started before any use")
				for range 2 {
					assert.False(t, use(func() { f(c) }), "returned without a cluster")
					assert.ErrorIs(t, s.failure(t), errNoDocker)
				}
				return 0
			}), &c, s.start, s.fail)
			assert.Equal(t, int32(1), s.starts.Load())
		})
	}
}

func TestSharedClusterStartsOnceForConcurrentUses(t *testing.T) {
	s := newStarter(nil)
	var c *Cluster
	const n = 8
	runShared(runFunc(func() int {
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() { use(func() { c.Servers() }) })
		}
		wg.Wait()
		return 0
	}), &c, s.start, s.fail)
	assert.Equal(t, int32(1), s.starts.Load())
	for range n {
		assert.ErrorIs(t, s.failure(t), errNoDocker)
	}
}
