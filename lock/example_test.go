package lock_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/zkrecipes/zkrecipes/lock"
	"github.com/zkrecipes/zkrecipes/recipes"
)

// A nightly job that must not run twice: take the lock, do the work under
// the hold's context (cancelled if the lock is lost), and hand the fencing
// token to whatever the job writes.
func Example() {
	ctx := context.Background()
	s, err := recipes.Connect(ctx, servers())
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	m, err := lock.New(s, "/example/nightly-report")
	if err != nil {
		log.Fatal(err)
	}
	hold, err := m.Lock(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer hold.Unlock(ctx)

	if err := writeReport(hold.Context(), hold.Token()); err != nil {
		log.Fatal(err)
	}
	fmt.Println("report written")
	// Output: report written
}

func writeReport(ctx context.Context, token int64) error {
	// A real job would pass token to the store it writes, which refuses
	// tokens older than the newest it has seen.
	return ctx.Err()
}

// TryLock does not wait: a second process skips the job while the first
// one holds the lock.
func ExampleMutex_TryLock() {
	ctx := context.Background()
	first, _ := recipes.Connect(ctx, servers())
	defer first.Close()
	second, _ := recipes.Connect(ctx, servers())
	defer second.Close()

	a, _ := lock.New(first, "/example/cron")
	b, _ := lock.New(second, "/example/cron")
	hold, err := a.TryLock(ctx)
	if err != nil {
		log.Fatal(err)
	}
	defer hold.Unlock(ctx)

	if _, err := b.TryLock(ctx); errors.Is(err, lock.ErrLocked) {
		fmt.Println("already running elsewhere; skipping")
	}
	// Output: already running elsewhere; skipping
}
