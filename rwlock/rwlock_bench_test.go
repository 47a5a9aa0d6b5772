package rwlock_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/zkrecipes/zkrecipes/recipes"
	"github.com/zkrecipes/zkrecipes/rwlock"
)

// benchLocks returns n read-write locks on one path, each on a session of
// its own that talks to the server directly (no test proxy).
func benchLocks(b *testing.B, path string, n int) []*rwlock.RWMutex {
	b.Helper()
	servers, err := cluster.DirectServers(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	locks := make([]*rwlock.RWMutex, n)
	for i := range locks {
		s, err := recipes.Connect(context.Background(), servers)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		if locks[i], err = rwlock.New(s, path); err != nil {
			b.Fatal(err)
		}
	}
	return locks
}

// run spreads b.N acquire+release cycles over the locks, one goroutine
// each; write decides which cycles take the write lock.
func run(b *testing.B, locks []*rwlock.RWMutex, write func(i int64) bool) {
	ctx := context.Background()
	var next atomic.Int64
	b.ResetTimer()
	var wg sync.WaitGroup
	for _, m := range locks {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(b.N); i = next.Add(1) - 1 {
				lock := m.RLock
				if write(i) {
					lock = m.Lock
				}
				h, err := lock(ctx)
				if err != nil {
					b.Error(err)
					return
				}
				if err := h.Unlock(ctx); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// BenchmarkReaders is read-lock throughput (ns per acquisition across all
// sessions) with 1, 8 and 32 reader sessions: readers never wait for each
// other, so more sessions should mean more acquisitions per second.
func BenchmarkReaders(b *testing.B) {
	for _, n := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("sessions=%d", n), func(b *testing.B) {
			run(b, benchLocks(b, fmt.Sprintf("/bench/readers-%d", n), n), func(int64) bool { return false })
		})
	}
}

// BenchmarkMixed90Read10Write is 8 sessions where every tenth acquisition
// is a write.
func BenchmarkMixed90Read10Write(b *testing.B) {
	run(b, benchLocks(b, "/bench/mixed", 8), func(i int64) bool { return i%10 == 9 })
}
