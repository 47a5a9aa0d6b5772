package integration_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/integration/interop"
	"github.com/zkrecipes/zkrecipes/lock"
	"github.com/zkrecipes/zkrecipes/multilock"
)

// TestCuratorMultiLockAndOursExcludeEachOther: two Java processes running
// Curator's InterProcessMultiLock over two mutexes, given in sorted order,
// and Go goroutines taking the same two with a multi-lock (listed the
// other way round) log their entries and exits: replayed, the log never
// has two inside at once, and every round of every client completed.
func TestCuratorMultiLockAndOursExcludeEachOther(t *testing.T) {
	const (
		base   = "/interop/curator-multilock"
		log    = "/interop/curator-multilock-log"
		rounds = 20
	)
	a, b := base+"/a", base+"/b"
	ctx := ctxFor(t, 3*time.Minute)
	s := session(t)
	newLog(t, s, log)

	var javas []*interop.Driver
	for range 2 {
		javas = append(javas, interop.StartCurator(t, cluster.ConnectString()))
	}
	for i, java := range javas {
		java.Send(fmt.Sprintf("multiloop %s,%s %d %s java%d", a, b, rounds, log, i))
	}
	var wg sync.WaitGroup
	for i := range 2 {
		gs := session(t)
		ma, err := lock.New(gs, a)
		require.NoError(t, err)
		mb, err := lock.New(gs, b)
		require.NoError(t, err)
		id := fmt.Sprintf("go%d", i)
		wg.Go(func() {
			for range rounds {
				h, err := multilock.Lock(ctx, multilock.Mutex(mb), multilock.Mutex(ma))
				if !assert.NoError(t, err) {
					return
				}
				logEntry(t, gs, log, "enter "+id)
				time.Sleep(2 * time.Millisecond)
				logEntry(t, gs, log, "exit "+id)
				assert.NoError(t, h.Unlock(ctx))
			}
		})
	}
	wg.Wait()
	for i, java := range javas {
		_, err := java.Expect(ctx, fmt.Sprintf("multidone java%d", i))
		require.NoError(t, err)
	}
	r := replay(t, readLog(t, s, log))
	assert.Equal(t, 1, r.most, "two holders of the same locks at once")
	assert.Equal(t, map[string]int{"java": 2 * rounds, "go": 2 * rounds}, r.enters)
	for _, p := range []string{a, b} {
		c, _, err := s.Conn().Children(p)
		if err == nil {
			assert.Empty(t, c, "left under %s: %s", p, strings.Join(c, " "))
		}
	}
}
