package leader_test

import (
	"context"
	"fmt"
	"log"

	"github.com/zkrecipes/zkrecipes/leader"
	"github.com/zkrecipes/zkrecipes/recipes"
)

// One replica among many runs the scheduler: Run calls the function only
// while this replica leads, and cancels its context the moment leadership
// is lost.
func ExampleElection_Run() {
	ctx := context.Background()
	s, err := recipes.Connect(ctx, servers())
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	e, err := leader.New(s, "/example/scheduler")
	if err != nil {
		log.Fatal(err)
	}

	err = e.Run(ctx, []byte("replica-1:8080"), func(ctx context.Context) error {
		cur, err := e.Leader(ctx)
		if err != nil {
			return err
		}
		fmt.Printf("leading as %s\n", cur.Data)
		return nil // a real scheduler would work until ctx is done
	})
	if err != nil {
		log.Fatal(err)
	}
	// Output: leading as replica-1:8080
}
