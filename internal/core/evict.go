package core

import (
	"context"
	"errors"
	"path"
	"time"

	"github.com/go-zookeeper/zk"
)

// evicting is an enforcer's duty towards one holder that declares a max
// hold: the waiter next in line towards the head of its queue, or the
// acquirer waiting for a semaphore's lease towards the leases (Evictor).
type evicting struct {
	name    string // the holder's node
	decl    string // its declaration, as timed (see maxHoldTag)
	version int32  // its data's version when last read
	at      time.Time
	// blind: last read as a bare revocation request more than one version
	// past the one timed, which may hide an Extend: not to be deleted
	// until read with its declaration again
	blind bool
}

// retime returns the duty towards the holder at node name after a read of
// its node (data, at version), given the duty so far. A holder first seen
// at first is timed from then; a new declaration (an Extend) is timed from
// now. Other writes (a downgrade, a revocation request and the holder's
// restore after it) leave the count running, so that no request can put
// an eviction off. A bare request (Curator's, which hides the declaration)
// one version past the one timed keeps the count; further past, something
// may have come in between, and the duty is blind until the holder puts
// its declaration back. ok is false when there is no duty: the node
// declares no max hold, or shows a bare request over a declaration not
// known yet (read it again).
func retime(d evicting, name string, data []byte, version int32, first, now time.Time) (_ evicting, ok bool) {
	decl, declared := declaration(data)
	switch {
	case !declared && isRevokeRequest(data) && d.name == name:
		d.blind = d.blind || version != d.version+1
		d.version = version
		return d, true
	case !declared:
		return evicting{}, false
	case d.name != name:
		dur, _ := DeclaredMaxHold(data)
		return evicting{name: name, decl: decl, version: version, at: first.Add(dur + EvictionMargin)}, true
	case d.decl != decl:
		dur, _ := DeclaredMaxHold(data)
		return evicting{name: name, decl: decl, version: version, at: now.Add(dur + EvictionMargin)}, true
	}
	d.version, d.blind = version, false
	return d, true
}

// Evictor enforces the max holds of holders that are not in a queue ahead
// of their enforcer: a semaphore's leases, enforced by the acquirer that
// waits for one (it holds the semaphore's mutex: it is next in line). It
// times each lease on its own monotonic clock from when it first listed
// it, which is after the lease's grant, and deletes a lease still there
// its declared max hold and EvictionMargin later (version-checked, as the
// waiter of a queue does). It reads a lease's node only once the lease has
// been listed for EvictionMargin, which is before any max hold of it can
// have passed: an acquirer granted within a second reads none.
//
// An Evictor is used by one goroutine.
type Evictor struct {
	s     *Session
	dir   string
	seen  map[string]time.Time // when each holder was first listed
	duty  map[string]evicting  // holders read: a duty, or (zero) none
	again map[string]time.Time // holders to read again, and when
}

// NewEvictor returns an Evictor for the holders listed under dir.
func NewEvictor(s *Session, dir string) *Evictor {
	return &Evictor{s: s, dir: dir, seen: map[string]time.Time{}, duty: map[string]evicting{}, again: map[string]time.Time{}}
}

// Listed takes a listing of the holders (our own nodes left out): new ones
// are timed from now, gone ones forgotten. It returns when Act has
// something to do, or the zero time for never.
func (e *Evictor) Listed(names []string) time.Time {
	now := time.Now()
	listed := make(map[string]bool, len(names))
	for _, n := range names {
		listed[n] = true
		if _, ok := e.seen[n]; !ok {
			e.seen[n] = now
		}
	}
	var next time.Time
	for n := range e.seen {
		if !listed[n] {
			delete(e.seen, n)
			delete(e.duty, n)
			delete(e.again, n)
		} else if at, ok := e.due(n); ok && (next.IsZero() || at.Before(next)) {
			next = at
		}
	}
	return next
}

// due returns when holder n is to be read (first, or again) or deleted;
// ok is false when never: it declares no max hold.
func (e *Evictor) due(n string) (at time.Time, ok bool) {
	if t, again := e.again[n]; again {
		return t, true
	}
	if d, read := e.duty[n]; read {
		return d.at, d.name != ""
	}
	return e.seen[n].Add(EvictionMargin), true
}

// Act reads the holders whose first EvictionMargin has passed (all in one
// round trip, as readAll does), and deletes those past their max hold and
// the margin. The caller lists them again after it: a deletion fires the
// listing's watch.
func (e *Evictor) Act(ctx context.Context) error {
	now := time.Now()
	var due []string
	for n, first := range e.seen {
		_, read := e.duty[n]
		again, reread := e.again[n]
		if !read && !now.Before(first.Add(EvictionMargin)) || reread && !now.Before(again) {
			due = append(due, n)
		}
	}
	if err := e.read(ctx, due, now); err != nil {
		return err
	}
	for n := range e.seen {
		d := e.duty[n]
		if d.name == "" || d.blind || now.Before(d.at) {
			continue
		}
		p := path.Join(e.dir, n)
		_, err := call(ctx, e.s, func() (struct{}, error) { return struct{}{}, e.s.Conn().Delete(p, d.version) })
		switch {
		case err == nil:
			e.s.log.Info("zkrecipes: evicted a holder past its max hold", "node", p)
		case errors.Is(err, zk.ErrNoNode):
		case errors.Is(err, zk.ErrBadVersion):
			if err := e.read(ctx, []string{n}, now); err != nil { // changed: its declaration decides
				return err
			}
		default:
			return err
		}
	}
	return nil
}

// read reads holders names and takes up, keeps or drops the duty towards
// each. One whose ACL forbids reading it declares nothing we can see: we
// have no duty towards it.
func (e *Evictor) read(ctx context.Context, names []string, now time.Time) error {
	if len(names) == 0 {
		return nil
	}
	paths := make([]string, len(names))
	for i, n := range names {
		paths[i] = path.Join(e.dir, n)
	}
	got, err := e.s.readAll(ctx, paths)
	if err != nil {
		return err
	}
	for i, n := range names {
		if got[i] == nil {
			delete(e.seen, n)
			continue
		}
		delete(e.again, n)
		d, ok := retime(e.duty[n], n, got[i].data, got[i].stat.Version, e.seen[n], now)
		switch {
		case ok && d.blind:
			e.duty[n] = d
			e.again[n] = now.Add(EvictionMargin) // its holder puts its declaration back
		case ok:
			e.duty[n] = d
		case isRevokeRequest(got[i].data):
			e.again[n] = now.Add(EvictionMargin) // its holder puts its data back
		default:
			e.duty[n] = evicting{} // none
		}
	}
	return nil
}
