package multilock_test

import (
	"context"
	"fmt"
	"log"

	"github.com/zkrecipes/zkrecipes/lock"
	"github.com/zkrecipes/zkrecipes/multilock"
	"github.com/zkrecipes/zkrecipes/recipes"
)

// Moving stock between two warehouses needs both of their locks; another
// process moving stock the other way lists them the other way round, and
// neither waits for the other forever.
func Example() {
	ctx := context.Background()
	s, err := recipes.Connect(ctx, servers())
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	a, _ := lock.New(s, "/locks/warehouse-a")
	b, _ := lock.New(s, "/locks/warehouse-b")

	h, err := multilock.Lock(ctx, multilock.Mutex(b), multilock.Mutex(a))
	if err != nil {
		log.Fatal(err)
	}
	defer h.Unlock(ctx)
	for _, p := range h.Holds() {
		fmt.Println(p.Path()[:len("/locks/warehouse-a")])
	}
	// Output:
	// /locks/warehouse-a
	// /locks/warehouse-b
}
