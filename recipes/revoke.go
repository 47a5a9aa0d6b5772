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
// is an error. It blocks until the writes are answered or ctx ends.
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
		_, err := core.Call(ctx, c0, func(conn *zk.Conn) (*zk.Stat, error) { return conn.Set(c.Path, core.RevokeMessage, -1) })
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
