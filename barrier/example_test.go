package barrier_test

import (
	"context"
	"fmt"
	"log"
	"sync"

	"github.com/zkrecipes/zkrecipes/barrier"
	"github.com/zkrecipes/zkrecipes/recipes"
)

// Three workers (here goroutines with their own sessions; in practice
// processes on different hosts) start a computation together and finish
// it together.
func ExampleDoubleBarrier() {
	ctx := context.Background()
	servers := servers()
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			s, err := recipes.Connect(ctx, servers)
			if err != nil {
				log.Fatal(err)
			}
			defer s.Close()
			d, err := barrier.NewDouble(s, "/example/batch", 3)
			if err != nil {
				log.Fatal(err)
			}
			if err := d.Enter(ctx); err != nil { // waits for all three
				log.Fatal(err)
			}
			// ... the computation ...
			if err := d.Leave(ctx); err != nil { // waits for all three
				log.Fatal(err)
			}
		})
	}
	wg.Wait()
	fmt.Println("all three started and finished together")
	// Output: all three started and finished together
}
