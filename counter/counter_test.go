package counter_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/counter"
	"github.com/zkrecipes/zkrecipes/internal/testutil"
	"github.com/zkrecipes/zkrecipes/recipes"
)

// TestConcurrentAddsLoseNoUpdate: 32 goroutines add at once, in both
// formats, two to a Session as a service's goroutines share one; the count
// is the sum of every Add, and every Add's result is distinct (each saw a
// count no other did).
func TestConcurrentAddsLoseNoUpdate(t *testing.T) {
	for name, opts := range map[string][]counter.Option{"long": nil, "shared count": {counter.WithSharedCountFormat()}} {
		t.Run(name, func(t *testing.T) {
			ctx := ctxFor(t, 2*time.Minute)
			path := testPath(t)
			const goroutines, adds = 32, 10
			var mu sync.Mutex
			seen := map[int64]bool{}
			var wg sync.WaitGroup
			s := session(t)
			for i := range goroutines {
				if i%2 == 0 {
					s = session(t)
				}
				c, err := counter.New(s, path, opts...)
				require.NoError(t, err)
				wg.Go(func() {
					for range adds {
						n, err := c.Add(ctx, 1)
						if !assert.NoError(t, err) {
							return
						}
						mu.Lock()
						assert.False(t, seen[n], "two Adds returned %d", n)
						seen[n] = true
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			c, err := counter.New(session(t), path, opts...)
			require.NoError(t, err)
			v, err := c.Get(ctx)
			require.NoError(t, err)
			assert.Equal(t, int64(goroutines*adds), v.N, "updates lost")
		})
	}
}

func TestCompareAndSetGoesByVersion(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	c, err := counter.New(session(t), testPath(t))
	require.NoError(t, err)
	v, err := c.Get(ctx)
	require.NoError(t, err)
	assert.Equal(t, counter.Value{}, v, "a missing node counts 0")
	ok, err := c.CompareAndSet(ctx, v, 5)
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = c.CompareAndSet(ctx, v, 6)
	require.NoError(t, err)
	assert.False(t, ok, "set from a stale read of a missing node")
	now, err := c.Get(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(5), now.N)
	ok, err = c.CompareAndSet(ctx, now, 7)
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = c.CompareAndSet(ctx, now, 8)
	require.NoError(t, err)
	assert.False(t, ok, "set from a stale read")
	n, err := c.Add(ctx, -10)
	require.NoError(t, err)
	assert.Equal(t, int64(-3), n)
}

func TestFormatsAndOverflow(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	s := session(t)
	path := testPath(t)
	long, err := counter.New(s, path)
	require.NoError(t, err)
	shared, err := counter.New(s, path, counter.WithSharedCountFormat())
	require.NoError(t, err)
	_, err = shared.Add(ctx, 2147483647)
	require.NoError(t, err)
	_, err = shared.Add(ctx, 1)
	assert.ErrorIs(t, err, counter.ErrOverflow)
	_, err = long.Get(ctx)
	assert.ErrorIs(t, err, counter.ErrFormat, "4 bytes read as an 8-byte count")
	data, _, err := s.Conn().Get(path)
	require.NoError(t, err)
	assert.Equal(t, []byte{0x7f, 0xff, 0xff, 0xff}, data, "SharedCount's format")
}

// TestWatchEndsWithClose: a Watch whose ctx lives on closes its channel
// when its Session is closed, and Close does not wait on it in vain; over
// the application's connection too, which lives on, so that the watch on
// the counter's node does not fire.
func TestWatchEndsWithClose(t *testing.T) {
	kinds := map[string]func(t *testing.T, ctx context.Context) *recipes.Session{
		"Connect": func(t *testing.T, _ context.Context) *recipes.Session { return session(t) },
		"NewSession": func(t *testing.T, ctx context.Context) *recipes.Session {
			s, _ := testutil.Wrapped(t, ctx, cluster.Servers())
			return s
		},
	}
	for name, open := range kinds {
		t.Run(name, func(t *testing.T) {
			ctx := ctxFor(t, time.Minute)
			s := open(t, ctx)
			c, err := counter.New(s, testPath(t))
			require.NoError(t, err)
			w := c.Watch(ctx)
			require.Equal(t, int64(0), (<-w).N)
			closed := make(chan error, 1)
			go func() { closed <- s.Close() }()
			for {
				select {
				case _, open := <-w:
					if !open {
						require.NoError(t, <-closed)
						return
					}
				case <-ctx.Done():
					t.Fatal("the Watch outlived its Session")
				}
			}
		})
	}
}

// TestWatchSeesEveryCountInOrder: a watcher sees the counts of a run of
// Adds in order, never an older one after a newer, and the last one.
func TestWatchSeesEveryCountInOrder(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	path := testPath(t)
	c, err := counter.New(session(t), path)
	require.NoError(t, err)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := c.Watch(wctx)
	first := <-w
	assert.Equal(t, int64(0), first.N)
	writer, err := counter.New(session(t), path)
	require.NoError(t, err)
	for range 20 {
		_, err := writer.Add(ctx, 1)
		require.NoError(t, err)
	}
	last := first
	for last.N < 20 {
		select {
		case v := <-w:
			assert.Greater(t, v.N, last.N, "out of order")
			assert.Greater(t, v.Version, last.Version)
			last = v
		case <-ctx.Done():
			t.Fatalf("never saw 20; last %d", last.N)
		}
	}
	cancel()
	for range w { // closes once ctx ends
	}
}
