// Command scheduler shows leader election: three replicas campaign; the
// leader runs the "scheduler" until it resigns (here after a few ticks),
// and the next replica takes over. Run keeps each replica's work under a
// context that ends the moment it stops leading.
//
//	go run ./examples/scheduler
//
// It uses ZK_SERVERS when set, and otherwise starts a throwaway ZooKeeper.
package main

import (
	"context"
	"fmt"
	"log"
	"sync"
	"time"

	"github.com/zkrecipes/zkrecipes/integration/zktest"
	"github.com/zkrecipes/zkrecipes/leader"
	"github.com/zkrecipes/zkrecipes/recipes"
)

func main() {
	ctx := context.Background()
	servers, stop, err := zktest.ServersOrStart(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer stop()
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, name := range []string{"replica-a", "replica-b", "replica-c"} {
		s, err := recipes.Connect(ctx, servers)
		if err != nil {
			log.Fatal(err)
		}
		defer s.Close()
		e, err := leader.New(s, "/examples/scheduler")
		if err != nil {
			log.Fatal(err)
		}
		wg.Go(func() {
			err := e.Run(ctx, []byte(name), func(ctx context.Context) error {
				mu.Lock() // only for tidy output
				defer mu.Unlock()
				for tick := range 3 {
					select {
					case <-ctx.Done(): // leadership lost: stop at once
						return ctx.Err()
					case <-time.After(100 * time.Millisecond):
						fmt.Printf("%s leads: scheduled job %d\n", name, tick)
					}
				}
				return nil // resign: the next replica takes over
			})
			if err != nil {
				log.Println(name, err)
			}
		})
	}
	wg.Wait()
}
