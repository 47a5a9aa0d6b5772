package integration_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/counter"
	"github.com/zkrecipes/zkrecipes/integration/interop"
)

// TestCuratorCountersAndOursLoseNoUpdate: Java processes increment
// Curator's DistributedAtomicLong and SharedCount while Go sessions add to
// the same nodes with counter.Counter in the matching format; every
// increment of both is in the final count.
func TestCuratorCountersAndOursLoseNoUpdate(t *testing.T) {
	ctx := ctxFor(t, 3*time.Minute)
	const javaRounds, goSessions, goRounds = 100, 4, 25
	for _, tc := range []struct {
		command, reply, path string
		opts                 []counter.Option
	}{
		{"incrlong", "incremented", "/interop/curator-atomic-long", nil},
		{"incrcount", "counted", "/interop/curator-shared-count", []counter.Option{counter.WithSharedCountFormat()}},
	} {
		java := interop.StartCurator(t, cluster.ConnectString())
		java.Send(fmt.Sprintf("%s %s %d", tc.command, tc.path, javaRounds))
		var wg sync.WaitGroup
		for range goSessions {
			c, err := counter.New(session(t), tc.path, tc.opts...)
			require.NoError(t, err)
			wg.Go(func() {
				for range goRounds {
					_, err := c.Add(ctx, 1)
					if !assert.NoError(t, err) {
						return
					}
				}
			})
		}
		wg.Wait()
		_, err := java.Expect(ctx, tc.reply+" "+tc.path)
		require.NoError(t, err)
		c, err := counter.New(session(t), tc.path, tc.opts...)
		require.NoError(t, err)
		v, err := c.Get(ctx)
		require.NoError(t, err)
		assert.Equal(t, int64(javaRounds+goSessions*goRounds), v.N, "%s: updates lost", tc.command)
	}
}
