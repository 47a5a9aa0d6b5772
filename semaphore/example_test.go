package semaphore_test

import (
	"context"
	"fmt"
	"log"

	"github.com/zkrecipes/zkrecipes/recipes"
	"github.com/zkrecipes/zkrecipes/semaphore"
)

// At most three exports run at once, across every process of the fleet.
func Example() {
	ctx := context.Background()
	s, err := recipes.Connect(ctx, servers())
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	exports, err := semaphore.New(s, "/semaphores/exports", 3)
	if err != nil {
		log.Fatal(err)
	}
	lease, err := exports.Acquire(ctx) // blocks while three are out
	if err != nil {
		log.Fatal(err)
	}
	defer lease.Unlock(ctx)
	runExport(lease.Context()) // its context ends if the lease is lost
	// Output: exporting
}

func runExport(ctx context.Context) { fmt.Println("exporting") }
