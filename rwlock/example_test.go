package rwlock_test

import (
	"context"
	"fmt"
	"log"

	"github.com/zkrecipes/zkrecipes/recipes"
	"github.com/zkrecipes/zkrecipes/rwlock"
)

// Processes on many hosts read a shared file under the read lock, and one
// rewrites it under the write lock, then downgrades to keep reading what it
// wrote while other readers come in and writers still wait.
func Example() {
	ctx := context.Background()
	s, err := recipes.Connect(ctx, servers())
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	m, err := rwlock.New(s, "/example/shared-config")
	if err != nil {
		log.Fatal(err)
	}

	w, err := m.Lock(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer w.Unlock(ctx)
	// ... rewrite the file, passing w.Token() to the store ...
	if err := w.Downgrade(ctx); err != nil {
		log.Fatal(err)
	}

	r, err := m.RLock(ctx) // another reader joins the downgraded hold
	if err != nil {
		log.Fatal(err)
	}
	defer r.Unlock(ctx)
	fmt.Println("write hold downgraded:", !w.Write())
	// Output: write hold downgraded: true
}
