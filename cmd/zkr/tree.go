package main

import (
	"context"
	"errors"
	"slices"

	"github.com/go-zookeeper/zk"

	"github.com/zkrecipes/zkrecipes/recipes"
	"github.com/zkrecipes/zkrecipes/semaphore"
)

// recipePath is one path under a prefix where contenders queue: a lock,
// read-write lock or election (a queue), or a semaphore.
type recipePath struct {
	path      string
	semaphore bool
	// nodes in queue order; for a semaphore, its leases (all Held).
	nodes []recipes.Contender
	// a semaphore's acquirers, queued for its mutex; the first of them
	// holds the mutex and waits for a lease.
	acquirers []recipes.Contender
}

// maxSurvey bounds how many nodes survey lists, so that a prefix by
// mistake at the root of a large tree stops with an error.
const maxSurvey = 100_000

// survey walks the tree under prefix (prefix included) and returns every
// path where contenders of a recipe queue, in the order found. It lists
// each node once and reads the contenders of the paths that have some.
func survey(ctx context.Context, s *recipes.Session, prefix string) ([]recipePath, error) {
	var out []recipePath
	todo, listed := []string{prefix}, 0
	for len(todo) > 0 {
		p := todo[0]
		todo = todo[1:]
		if listed++; listed > maxSurvey {
			return out, errors.New("more than 100000 nodes under the prefix: give a narrower one")
		}
		names, err := call(ctx, s, func(c *zk.Conn) ([]string, error) {
			n, _, err := c.Children(p)
			return n, err
		})
		switch {
		case errors.Is(err, zk.ErrNoNode): // gone meanwhile
			continue
		case err != nil:
			return out, err
		case len(names) == 0:
			continue
		}
		slices.Sort(names)
		skip := map[string]bool{}
		if slices.Contains(names, "leases") { // its locks container goes when nobody waits
			leases, waiters, err := semaphore.Inspect(ctx, s, p)
			if err != nil {
				return out, err
			}
			if len(leases)+len(waiters) > 0 {
				out = append(out, recipePath{path: p, semaphore: true, nodes: leases, acquirers: waiters})
			}
			skip["leases"], skip["locks"] = true, true
		}
		cs, err := recipes.Contenders(ctx, s, p)
		if err != nil {
			return out, err
		}
		if len(cs) > 0 {
			out = append(out, recipePath{path: p, nodes: cs})
		}
		for _, c := range cs {
			skip[c.Name] = true // ephemeral: no children
		}
		for _, n := range names {
			if !skip[n] {
				todo = append(todo, join(p, n))
			}
		}
	}
	return out, nil
}

func join(p, name string) string {
	if p == "/" {
		return "/" + name
	}
	return p + "/" + name
}
