package integration_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/integration/interop"
	"github.com/zkrecipes/zkrecipes/internal/testutil"
	"github.com/zkrecipes/zkrecipes/partition"
)

// TestKazooSetPartitionerAndOursSplitOneSet: two Python processes running
// Kazoo's SetPartitioner and two Go partitioners on one path divide one
// set: each ends up owning exactly its share by Kazoo's algorithm over all
// four identifiers, so every item is owned once.
func TestKazooSetPartitionerAndOursSplitOneSet(t *testing.T) {
	ctx := ctxFor(t, 2*time.Minute)
	const path = "/interop/kazoo-partition"
	var items []string
	for i := range 10 {
		items = append(items, fmt.Sprintf("item-%02d", i))
	}
	ids := []string{"go-1", "go-2", "py-1", "py-2"}

	var mu sync.Mutex
	owns := map[string][]string{}
	wctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait() // after cancel: readers and members stop
	defer cancel()
	for _, id := range ids[2:] {
		py := interop.StartKazoo(t, cluster.ConnectString())
		py.Send(fmt.Sprintf("partition %s %s %s 0.3", path, strings.Join(items, ","), id))
		wg.Go(func() {
			for {
				var line string
				select {
				case line = <-py.Lines():
				case <-wctx.Done():
					return
				}
				if f := strings.Fields(line); len(f) >= 2 && f[0] == "owns" {
					var share []string
					if len(f) == 3 {
						share = strings.Split(f[2], ",")
					}
					mu.Lock()
					owns[f[1]] = share
					mu.Unlock()
				}
			}
		})
	}
	for _, id := range ids[:2] {
		p, err := partition.New(session(t), path, items, partition.WithIdentifier(id), partition.WithStability(300*time.Millisecond))
		require.NoError(t, err)
		wg.Go(func() {
			p.Run(wctx, func(ctx context.Context, share []partition.Item) error {
				var names []string
				for _, it := range share {
					names = append(names, it.Name)
				}
				mu.Lock()
				owns[id] = names
				mu.Unlock()
				<-ctx.Done()
				mu.Lock()
				delete(owns, id)
				mu.Unlock()
				return nil
			})
		})
	}
	require.NoError(t, testutil.WaitFor(ctx, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, id := range ids {
			if got, ok := owns[id]; !ok || !slices.Equal(got, partition.Share(items, ids, id)) {
				return false
			}
		}
		return true
	}), "the four never settled on Kazoo's division: %v", owns)
}
