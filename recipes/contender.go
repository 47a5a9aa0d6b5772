package recipes

import (
	"context"
	"time"

	"github.com/zkrecipes/zkrecipes/internal/core"
)

// Contender is one node queued at a recipe path, holding or waiting, as
// the recipes' Contenders methods and [Contenders] report it. It is a
// snapshot: it may be stale as soon as it is returned.
type Contender struct {
	Name       string    // the node's name
	Path       string    // the node's full path
	Seq        int32     // the sequence number ZooKeeper appended: queue order
	Shared     bool      // a reader (or a writer that downgraded): holds beside other readers
	Downgraded bool      // a writer that downgraded to read: Shared too
	Held       bool      // nothing ahead of it blocks it: its owner holds, or is about to learn so
	Data       []byte    // what its client wrote: ours an identity, Curator an IP address
	Session    int64     // the session that owns it
	Created    time.Time // when it was created
	Token      int64     // the zxid that created it: the fencing token of its hold
	// Unreadable: the node's ACL does not let this session read it, so its
	// Data is unknown (nil); its stat, which needs no permission, is known.
	// A writer's node that cannot be read is taken for not downgraded.
	Unreadable bool
}

// Contenders returns the contenders queued at path by any recipe and
// client we know (mutexes, read-write locks and elections of zkrecipes,
// Curator, Kazoo and go-zookeeper) in queue order, each marked Held or not
// under zkrecipes' rules: an exclusive node (a mutex's, a writer's, a
// leader's) blocks every node behind it, a reader's node blocks the
// exclusive ones, and a writer that downgraded blocks readers no more.
// Other clients follow their own rules, and may disagree: Curator's
// readers (named as ours) wait for a downgraded writer to be released,
// and Kazoo's readers by default pass every node but Kazoo's writers.
// Children of other kinds are left out.
//
// It lists path, then reads every contender's node (up to 64 at once; a
// node it may not read is stat-ed instead, and marked Unreadable), and
// returns nil for a path that does not exist. It checks path and s first,
// and blocks until the reads are answered or ctx ends. It is a snapshot:
// it may be stale as soon as it returns.
func Contenders(ctx context.Context, s *Session, path string) ([]Contender, error) {
	c, err := core.Prepare(s, path)
	if err != nil {
		return nil, err
	}
	cs, err := core.Inspect(ctx, c, path)
	var out []Contender
	for _, c := range cs {
		out = append(out, Contender(c))
	}
	return out, err
}
