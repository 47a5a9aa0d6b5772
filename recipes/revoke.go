package recipes

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/go-zookeeper/zk"

	"github.com/zkrecipes/zkrecipes/internal/core"
)

// Revoke asks the holders of the recipe at path to let go, in Curator's
// protocol: it writes Curator's revocation message ("__REVOKE__") into
// the node of every contender [Contenders] marks Held, or, when nodes are
// named (children of path), into those contenders' nodes, holding or
// waiting. Holders that listen let go (ours: [Holding.RevokeRequested];
// Curator's: an InterProcessMutex made revocable); the request ends
// nothing by itself, and a holder that does not listen keeps its hold.
// To end a hold that will not let go, delete its node (`zkr revoke
// --force`): its owner's Done fires, and fencing refuses its late writes.
//
// It returns the contenders asked, in queue order; a node that went
// meanwhile is left out, and a named node that is not a contender at path
// is an error. Into a node of ours that declares a max hold, the request
// goes with the declaration, so that it hides no limit from the waiter who
// enforces it (Curator's Revoker writes the message alone). It blocks
// until the writes are answered or ctx ends.
func Revoke(ctx context.Context, s *Session, path string, nodes ...string) ([]Contender, error) {
	c0, err := core.Prepare(s, path)
	if err != nil {
		return nil, fmt.Errorf("revoke %s: %w", path, err)
	}
	cs, err := Contenders(ctx, s, path)
	if err != nil {
		return nil, fmt.Errorf("revoke %s: %w", path, err)
	}
	for _, n := range nodes {
		if !slices.ContainsFunc(cs, func(c Contender) bool { return c.Name == n }) {
			return nil, fmt.Errorf("revoke %s: %s: no such contender", path, n)
		}
	}
	var asked []Contender
	for _, c := range cs {
		if len(nodes) > 0 && !slices.Contains(nodes, c.Name) || len(nodes) == 0 && !c.Held {
			continue
		}
		err := ask(ctx, c0, c.Path)
		switch {
		case errors.Is(err, zk.ErrNoNode): // let go meanwhile
		case err != nil:
			return asked, fmt.Errorf("revoke %s: %w", c.Path, err)
		default:
			asked = append(asked, c)
		}
	}
	return asked, nil
}

// ask writes the revocation request into the node at p: Curator's message,
// with the node's max-hold declaration kept if it has one (so that the
// request hides no limit from the waiter who enforces it), checked
// against the version read, and read again if the node changed meanwhile.
func ask(ctx context.Context, s *core.Session, p string) error {
	for {
		type read struct {
			data []byte
			stat *zk.Stat
		}
		r, err := core.Call(ctx, s, func(conn *zk.Conn) (read, error) {
			d, st, err := conn.Get(p)
			return read{d, st}, err
		})
		if err != nil {
			return err
		}
		_, err = core.Call(ctx, s, func(conn *zk.Conn) (*zk.Stat, error) {
			return conn.Set(p, core.RevokeRequest(r.data), r.stat.Version)
		})
		if !errors.Is(err, zk.ErrBadVersion) {
			return err
		}
	}
}
