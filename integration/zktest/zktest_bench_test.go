package zktest_test

import (
	"context"
	"testing"
	"time"

	"github.com/zkrecipes/zkrecipes/integration/zktest"
)

// BenchmarkRun measures how long a cluster takes from Run to serving
// clients, which bounds how many real-server tests a suite can afford.
func BenchmarkRun(b *testing.B) {
	for _, n := range []int{1, 3, 5} {
		b.Run(map[int]string{1: "single", 3: "ensemble3", 5: "ensemble5"}[n], func(b *testing.B) {
			for b.Loop() {
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
				c, err := zktest.Run(ctx, zktest.Image(), zktest.WithEnsemble(n), zktest.Quiet())
				b.StopTimer()
				if c != nil {
					if terr := c.Terminate(ctx); terr != nil {
						b.Error(terr)
					}
				}
				cancel()
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}
