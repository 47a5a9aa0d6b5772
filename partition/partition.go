package partition

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/google/uuid"

	"github.com/zkrecipes/zkrecipes/internal/core"
	"github.com/zkrecipes/zkrecipes/recipes"
)

// DefaultStability is how long the membership must stay the same before
// members take their shares, unless WithStability says otherwise. Kazoo's
// SetPartitioner waits 30 s by default; ours reacts faster, and a share
// changes hands only through its locks either way.
const DefaultStability = 5 * time.Second

// Partitioner divides items among the members of the party at one path.
// It is cheap: no server call until Run.
type Partitioner struct {
	s         *core.Session
	path      string
	items     []string
	id        string
	stability time.Duration
}

// Option configures a Partitioner.
type Option func(*Partitioner)

// WithIdentifier sets this member's identifier: its name in the party,
// and what orders the members. The default is "<host>-<pid>" (Kazoo's is
// the same, with the host's fully qualified name).
// Members need distinct identifiers, without "/". A member that finds
// another node of its identifier in the party (its own previous run, say,
// whose session has not expired yet) waits for it to go for up to a
// session timeout of its own, then Run fails.
func WithIdentifier(id string) Option { return func(p *Partitioner) { p.id = id } }

// WithStability sets how long the membership must stay the same before
// members take their shares (Kazoo's time_boundary). The default is
// DefaultStability.
func WithStability(d time.Duration) Option { return func(p *Partitioner) { p.stability = d } }

// New returns the partitioner of items at path on session s. Items are
// node names (no "/"); every member must be given the same set. It checks
// its arguments and makes no server call.
func New(s *recipes.Session, p string, items []string, opts ...Option) (*Partitioner, error) {
	cs, err := core.Prepare(s, p)
	if err != nil {
		return nil, fmt.Errorf("partition: %w", err)
	}
	host, _ := os.Hostname()
	pt := &Partitioner{s: cs, path: p, items: slices.Clone(items), id: fmt.Sprintf("%s-%d", host, os.Getpid()), stability: DefaultStability}
	core.Apply(pt, opts)
	slices.Sort(pt.items)
	pt.items = slices.Compact(pt.items) // an item twice would queue behind its own lock
	for _, it := range pt.items {
		if it == "" || strings.Contains(it, "/") || core.ValidatePath(pt.locks(it)) != nil {
			return nil, fmt.Errorf("partition %s: item %q is not a node name", p, it)
		}
	}
	if pt.id == "" || strings.Contains(pt.id, "/") || core.ValidatePath(pt.partyNode(strings.Repeat("0", 32))) != nil || pt.stability <= 0 {
		return nil, fmt.Errorf("partition %s: identifier %q, stability %v: want a node name and a positive window", p, pt.id, pt.stability)
	}
	return pt, nil
}

func (p *Partitioner) locks(item string) string { return p.path + "/locks/" + item }

// partyNode is the path of our node in the party, named as Kazoo names
// its party's: id, a hex UUID of 32 digits, "-" and our identifier.
func (p *Partitioner) partyNode(id string) string { return path.Join(p.path, "party", id+"-"+p.id) }

// Share returns the items member id takes among members (identifiers), as
// Kazoo's SetPartitioner decides: of the items sorted, every n-th, from
// the member's index among the identifiers sorted.
func Share(items, members []string, id string) []string {
	items, members = slices.Clone(items), slices.Clone(members)
	slices.Sort(items)
	slices.Sort(members)
	i := slices.Index(members, id)
	if i < 0 {
		return nil
	}
	var out []string
	for j := i; j < len(items); j += len(members) {
		out = append(out, items[j])
	}
	return out
}

// Item is one item of a member's share, as work gets it: its name, and
// the fencing token of the member's lock on it (the zxid that created the
// lock's node; a later owner's is larger). Hand the token to whatever the
// work writes, so that a member that works on after it lost the item (a
// paused process) is refused.
type Item struct {
	Name  string
	Token int64
}

// Run joins the party and, until ctx ends, works on this member's share:
// each time the membership has settled, it locks every item of the share
// and calls work with them, under a context that ends when the membership
// changes, a lock is lost, or ctx ends; work must then return. Run
// releases the share once work has returned, and settles again. If work
// returns nil earlier, the share stays held until then. If work returns an
// error (other than its context's), the session is lost, or this member's
// party node goes, Run leaves the party, releases everything, and returns
// the error; when ctx ends, it returns ctx.Err(). A lock it was waiting
// for whose node is lost while the session lives (an operator deleted it)
// ends the round, as a lost lock does, not Run. On its way out it releases
// the share and leaves the party for at most a second, then in the
// background.
func (p *Partitioner) Run(ctx context.Context, work func(ctx context.Context, items []Item) error) error {
	if work == nil {
		return fmt.Errorf("partition %s: run: nil work", p.path)
	}
	node := p.partyNode(strings.ReplaceAll(uuid.NewString(), "-", ""))
	if err := p.s.CreateEphemeral(ctx, node, nil); err != nil { // through connection loss
		return fmt.Errorf("partition %s: join: %w", p.path, err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		p.s.DeleteEphemeral(dctx, node)
	}()
	for {
		members, changed, err := p.settle(ctx, path.Base(node))
		if err != nil {
			return err
		}
		if err := p.round(ctx, Share(p.items, members, p.id), changed, work); err != nil {
			return err
		}
	}
}

// round takes the share and works on it until the membership changes
// (changed fires), then releases it. It returns an error only to end Run.
func (p *Partitioner) round(ctx context.Context, share []string, changed <-chan zk.Event, work func(context.Context, []Item) error) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-changed:
			cancel()
		case <-wctx.Done():
		}
	}()
	var holds []*core.Hold
	defer func() {
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer rcancel()
		for _, h := range holds {
			h.Release(rctx)
		}
	}()
	for _, it := range share {
		q, err := core.NewQueue(p.s, p.locks(it), nil, core.AnyBlocks)
		if err != nil {
			return err
		}
		h, err := q.Acquire(wctx, core.KazooLockMarker, true, []byte(p.id))
		if err == nil {
			holds = append(holds, h) // released with the rest, even if the round ends now
		}
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case wctx.Err() != nil:
			return nil // the membership changed while we took the share
		case err != nil && errors.Is(err, recipes.ErrLost) && p.s.Err() == nil:
			return nil // our waiting node was deleted: settle again
		case err != nil:
			return fmt.Errorf("partition %s: lock %s: %w", p.path, it, err)
		}
		go func() { // a lost lock ends the round
			select {
			case <-h.Done():
				cancel()
			case <-wctx.Done():
			}
		}()
	}
	items := make([]Item, len(share))
	for i, h := range holds {
		items[i] = Item{Name: share[i], Token: h.Token()}
	}
	// Only its context's end is not work's failure: anything else (a
	// command that would not stop) ends Run. A round that ended as the
	// last lock was taken has no work.
	if wctx.Err() == nil {
		if err := work(wctx, items); err != nil && (wctx.Err() == nil || !errors.Is(err, context.Canceled)) {
			return err
		}
	}
	select {
	case <-wctx.Done():
	case <-p.s.Done(): // closed: no watch will fire
	}
	if err := p.s.Err(); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return nil
}

// settle waits until the party's membership has stayed the same for the
// stability window, and returns the identifiers and a watch that fires on
// the next change. Our node (own) must be in the party, alone with our
// identifier.
func (p *Partitioner) settle(ctx context.Context, own string) ([]string, <-chan zk.Event, error) {
	var twin time.Time // since when another node has our identifier
	for {
		members, nodes, changed, err := p.party(ctx)
		if err != nil {
			return nil, nil, err
		}
		wait := p.stability
		switch {
		case !slices.Contains(nodes, own):
			return nil, nil, fmt.Errorf("partition %s: this member's party node %s: %w", p.path, own, recipes.ErrNodeDeleted)
		case len(slices.DeleteFunc(slices.Clone(members), func(id string) bool { return id != p.id })) > 1:
			// Most likely this member's previous run, whose session has
			// not expired yet (a restarted pod): wait for it to go, for
			// as long as a session of ours would last.
			if twin.IsZero() {
				twin = time.Now()
			}
			wait = time.Until(twin.Add(p.s.SessionTimeout()))
			if wait <= 0 {
				return nil, nil, fmt.Errorf("partition %s: another member has the identifier %q: give each its own", p.path, p.id)
			}
		default:
			twin = time.Time{}
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
			if !twin.IsZero() {
				continue // look once more: the twin's time is up
			}
			return members, changed, nil
		case <-changed: // not settled yet
			t.Stop()
		case <-ctx.Done():
			t.Stop()
			return nil, nil, ctx.Err()
		case <-p.s.Done():
			t.Stop()
			return nil, nil, p.s.Err()
		}
	}
}

// party lists the party's identifiers (ShallowParty: after the first "-"
// of each node's name; a name without one is an identifier of its own, as
// Kazoo reads it) and nodes, with a watch.
func (p *Partitioner) party(ctx context.Context) ([]string, []string, <-chan zk.Event, error) {
	type listing struct {
		names []string
		ch    <-chan zk.Event
	}
	for {
		l, err := core.Call(ctx, p.s, func(c *zk.Conn) (listing, error) {
			n, _, ch, err := c.ChildrenW(path.Join(p.path, "party"))
			return listing{n, ch}, err
		})
		switch {
		case core.Retryable(err):
			if err := p.s.WaitConnected(ctx); err != nil {
				return nil, nil, nil, err
			}
			continue
		case errors.Is(err, zk.ErrNoNode): // the party itself is gone, and our node with it
			return nil, nil, nil, fmt.Errorf("partition %s: the party: %w", p.path, recipes.ErrNodeDeleted)
		case err != nil:
			return nil, nil, nil, fmt.Errorf("partition %s: %w", p.path, err)
		}
		var ids []string
		for _, n := range l.names {
			_, id, ok := strings.Cut(n, "-")
			if !ok {
				id = n
			}
			ids = append(ids, id)
		}
		return ids, l.names, l.ch, nil
	}
}
