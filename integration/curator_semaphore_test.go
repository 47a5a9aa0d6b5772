package integration_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/integration/interop"
	"github.com/zkrecipes/zkrecipes/recipes"
	"github.com/zkrecipes/zkrecipes/semaphore"
)

// TestCuratorSemaphoreAndOursShareLeases: two Java processes running
// Curator's InterProcessSemaphoreV2 and Go goroutines (three sharing one
// Session, one on its own) take leases of one semaphore with max 3, round
// after round. Each holder logs its entry and exit as sequential nodes,
// which ZooKeeper orders: replayed, the log never has more than 3 inside,
// and has at least 2 at some moment, so the check can fail. Nothing is
// left in the semaphore's layout.
func TestCuratorSemaphoreAndOursShareLeases(t *testing.T) {
	const (
		path   = "/interop/curator-semaphore"
		log    = "/interop/curator-semaphore-log"
		leases = 3
		rounds = 20
		holdMs = 20
	)
	ctx := ctxFor(t, 3*time.Minute)
	s := session(t)
	newLog(t, s, log)

	// Every process first, then every loop at once: a JVM takes longer to
	// start than a loop takes to run.
	var javas []*interop.Driver
	for range 2 {
		javas = append(javas, interop.StartCurator(t, cluster.ConnectString()))
	}
	for i, java := range javas {
		java.Send(fmt.Sprintf("semloop %s %d %d %s java%d %d", path, leases, rounds, log, i, holdMs))
	}
	shared := session(t)
	var wg sync.WaitGroup
	for i := range 4 {
		gs := shared
		if i == 3 {
			gs = session(t)
		}
		m, err := semaphore.New(gs, path, leases)
		require.NoError(t, err)
		id := fmt.Sprintf("go%d", i)
		wg.Go(func() {
			for range rounds {
				l, err := m.Acquire(ctx)
				if !assert.NoError(t, err) {
					return
				}
				logEntry(t, gs, log, "enter "+id)
				time.Sleep(holdMs * time.Millisecond)
				logEntry(t, gs, log, "exit "+id)
				assert.NoError(t, l.Unlock(ctx))
			}
		})
	}
	wg.Wait()
	for i, java := range javas {
		_, err := java.Expect(ctx, fmt.Sprintf("semdone %s java%d", path, i))
		require.NoError(t, err)
	}

	r := replay(t, readLog(t, s, log))
	t.Logf("at most %d holders at once, of %d leases; Java and Go inside together: %v", r.most, leases, r.mixed)
	assert.LessOrEqual(t, r.most, leases, "more holders than leases")
	assert.GreaterOrEqual(t, r.most, 2, "never two holders at once: the check proves nothing")
	assert.True(t, r.mixed, "Java and Go never held leases at once: they did not share the semaphore")
	assert.Equal(t, map[string]int{"java": 2 * rounds, "go": 4 * rounds}, r.enters)
	for _, p := range []string{path + "/leases", path + "/locks"} {
		c, _, err := s.Conn().Children(p)
		if err == nil {
			assert.Empty(t, c, "left under %s", p)
		}
	}
}

// replayed is what a log of entries and exits says.
type replayed struct {
	most   int            // holders inside at once, at most
	mixed  bool           // a Java and a Go holder were inside at once
	enters map[string]int // by client kind ("java", "go")
}

func replay(t *testing.T, entries []string) replayed {
	t.Helper()
	r := replayed{enters: map[string]int{}}
	inside := map[string]bool{}
	for _, e := range entries {
		verb, id, _ := strings.Cut(e, " ")
		switch verb {
		case "enter":
			require.False(t, inside[id], "%s entered twice", id)
			inside[id] = true
			r.enters[strings.TrimRight(id, "0123456789")]++
		case "exit":
			require.True(t, inside[id], "%s left without entering", id)
			delete(inside, id)
		}
		r.most = max(r.most, len(inside))
		kinds := map[string]bool{}
		for id := range inside {
			kinds[strings.TrimRight(id, "0123456789")] = true
		}
		r.mixed = r.mixed || len(kinds) == 2
	}
	return r
}

// newLog makes the log node at log (under /interop), deleted with its
// entries when the test ends.
func newLog(t *testing.T, s *recipes.Session, log string) {
	t.Helper()
	_, err := s.Conn().CreateContainer("/interop", nil, zk.FlagContainer, zk.WorldACL(zk.PermAll))
	if !errors.Is(err, zk.ErrNodeExists) {
		require.NoError(t, err)
	}
	_, err = s.Conn().Create(log, nil, 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	t.Cleanup(func() { clearLog(s, log) })
}

func logEntry(t *testing.T, s *recipes.Session, log, entry string) {
	_, err := s.Conn().Create(log+"/e-", []byte(entry), zk.FlagSequence, zk.WorldACL(zk.PermAll))
	assert.NoError(t, err)
}

// readLog returns the entries of the log in the order ZooKeeper made them.
func readLog(t *testing.T, s *recipes.Session, log string) []string {
	t.Helper()
	names, _, err := s.Conn().Children(log)
	require.NoError(t, err)
	slices.Sort(names) // e-<10 digits>: the sequence
	var out []string
	for _, n := range names {
		data, _, err := s.Conn().Get(log + "/" + n)
		require.NoError(t, err)
		out = append(out, string(data))
	}
	return out
}

func clearLog(s *recipes.Session, log string) {
	names, _, _ := s.Conn().Children(log)
	for _, n := range names {
		s.Conn().Delete(log+"/"+n, -1)
	}
	s.Conn().Delete(log, -1)
}
