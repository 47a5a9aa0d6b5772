package counter_test

import (
	"context"
	"fmt"
	"log"

	"github.com/zkrecipes/zkrecipes/counter"
	"github.com/zkrecipes/zkrecipes/recipes"
)

// Every process of the fleet counts the orders it ships on one counter,
// without a lock, and without losing one.
func Example() {
	ctx := context.Background()
	s, err := recipes.Connect(ctx, servers())
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	shipped, err := counter.New(s, "/counters/example-shipped")
	if err != nil {
		log.Fatal(err)
	}
	n, err := shipped.Add(ctx, 3)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("shipped so far:", n)
	// Output: shipped so far: 3
}
