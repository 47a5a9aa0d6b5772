package integration_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/barrier"
	"github.com/zkrecipes/zkrecipes/integration/interop"
)

// TestCuratorDoubleBarrierAndOursCompleteARoundTogether has two Go members
// and a Curator DistributedDoubleBarrier member (Java) of one barrier for
// three: nobody enters before all three arrive, nobody leaves before all
// three go, and nothing is left behind.
func TestCuratorDoubleBarrierAndOursCompleteARoundTogether(t *testing.T) {
	ctx := ctxFor(t, 2*time.Minute)
	const path, n = "/interop/curator-double-barrier", 3
	java := interop.StartCurator(t, cluster.ConnectString())

	var arrived, leaving atomic.Int32
	var wg sync.WaitGroup
	var members []*barrier.DoubleBarrier
	for range 2 {
		d, err := barrier.NewDouble(session(t), path, n)
		require.NoError(t, err)
		members = append(members, d)
		wg.Go(func() {
			arrived.Add(1)
			if assert.NoError(t, d.Enter(ctx)) {
				assert.EqualValues(t, 3, arrived.Load(), "a Go member entered before the Java one arrived")
			}
		})
	}
	require.NoError(t, waitForChildren(t, path, 2, 2))
	select {
	case line := <-java.Lines():
		t.Fatalf("unexpected %q", line)
	default:
	}
	arrived.Add(1)
	java.Send("dbenter " + path + " 3")
	_, err := java.Expect(ctx, "dbentered "+path)
	require.NoError(t, err)
	wg.Wait()

	for _, d := range members {
		wg.Go(func() {
			leaving.Add(1)
			if assert.NoError(t, d.Leave(ctx)) {
				assert.EqualValues(t, 3, leaving.Load(), "a Go member left before the Java one did")
			}
		})
	}
	// One Go member at least is not the lowest, so it deletes its node at
	// once and waits: the count drops to two once leaving has begun.
	require.NoError(t, waitForChildren(t, path, 0, 2))
	leaving.Add(1)
	java.Send("dbleave " + path)
	_, err = java.Expect(ctx, "dbleft "+path)
	require.NoError(t, err)
	wg.Wait()
	require.NoError(t, waitForChildren(t, path, 0, 0), "nodes left behind")
}

// waitForChildren waits until path has between lo and hi member children
// (ready excluded).
func waitForChildren(t *testing.T, path string, lo, hi int) error {
	t.Helper()
	s := session(t)
	ctx := ctxFor(t, time.Minute)
	for {
		c, _, err := s.Conn().Children(path)
		k := 0
		for _, name := range c {
			if name != "ready" {
				k++
			}
		}
		if (err == nil || lo == 0) && k >= lo && k <= hi {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}
