// Package testutil holds what the recipe packages' tests share: sessions
// that close when the test ends (made by Connect, or over the test's own
// connection), contexts with deadlines, waiting for a condition instead of
// for time, and losing a session while requests are queued.
package testutil

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/integration/zktest"
	"github.com/zkrecipes/zkrecipes/internal/testutil/stacks"
	"github.com/zkrecipes/zkrecipes/recipes"
)

// Session opens a session to servers and closes it when the test ends.
func Session(tb testing.TB, servers []string, opts ...recipes.Option) *recipes.Session {
	tb.Helper()
	s, err := recipes.Connect(Ctx(tb, 30*time.Second), servers, opts...)
	require.NoError(tb, err)
	tb.Cleanup(func() { s.Close() })
	return s
}

// Proxy starts a proxy in front of c's members, to cut off the clients
// that connect through it alone, and closes it when the test ends.
func Proxy(tb testing.TB, c *zktest.Cluster) *zktest.Proxy {
	tb.Helper()
	p, err := c.NewProxy()
	require.NoError(tb, err)
	tb.Cleanup(func() { p.Close() })
	return p
}

// Ctx returns a context that ends after d or when the test ends.
func Ctx(tb testing.TB, d time.Duration) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	tb.Cleanup(cancel)
	return ctx
}

// Children lists the children of p through s: none if p does not exist.
func Children(tb testing.TB, s *recipes.Session, p string) []string {
	tb.Helper()
	c, _, err := s.Conn().Children(p)
	if errors.Is(err, zk.ErrNoNode) {
		return nil
	}
	require.NoError(tb, err)
	return c
}

// Path returns a recipe path that no other test uses.
func Path(tb testing.TB) string { return "/test/" + tb.Name() }

// WaitFor polls cond until it holds or ctx ends.
func WaitFor(ctx context.Context, cond func() bool) error {
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

// Methods returns the names of T's exported methods, sorted: a recipe's
// hold must offer exactly its verbs.
func Methods[T any]() []string {
	var names []string
	for m := range reflect.TypeFor[T]().Methods() {
		names = append(names, m.Name)
	}
	return names
}

// Goroutines returns how many goroutines have a function whose name
// contains fn on their stacks: to check that none outlives a Close.
func Goroutines(fn string, also ...string) int {
	count := 0
	for _, g := range stacks.All() {
		if strings.Contains(g, fn) && !slices.ContainsFunc(also, func(f string) bool { return !strings.Contains(g, f) }) {
			count++
		}
	}
	return count
}
