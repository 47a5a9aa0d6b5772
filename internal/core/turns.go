package core

import (
	"context"
	"sync"
)

// turns orders the writes of a hold's own to its node: one write at a
// time (SetData, Extend, a restore), and none while a Multi is guarded by
// the node's version (Multis share their turn). A write waiting holds
// back Multis that come after it. Unlike a sync.RWMutex, a wait ends with
// its ctx, so that a call never waits past its ctx for another's write.
type turns struct {
	mu      sync.Mutex
	multis  int           // Multis in their turn
	writing bool          // a write in its turn
	waiting int           // writes waiting for theirs
	free    chan struct{} // closed when a turn ends, if anyone waits (nil otherwise)
}

// take waits for a write's turn (write) or a Multi's, or for ctx to end.
func (t *turns) take(ctx context.Context, write bool) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if write {
		t.waiting++
	}
	for {
		switch {
		case write && !t.writing && t.multis == 0:
			t.waiting--
			t.writing = true
			return nil
		case !write && !t.writing && t.waiting == 0:
			t.multis++
			return nil
		}
		if t.free == nil {
			t.free = make(chan struct{})
		}
		free := t.free
		t.mu.Unlock()
		select {
		case <-free:
			t.mu.Lock()
		case <-ctx.Done():
			t.mu.Lock()
			if write {
				t.waiting--
				t.wake() // Multis held back for this write may go
			}
			return ctx.Err()
		}
	}
}

// give ends a turn taken with take(ctx, write).
func (t *turns) give(write bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if write {
		t.writing = false
	} else {
		t.multis--
	}
	t.wake()
}

func (t *turns) wake() {
	if t.free != nil {
		close(t.free)
		t.free = nil
	}
}

// Turn is a mutex whose Lock gives up when its ctx ends (a free turn is
// taken even then), for the recipes' own one-at-a-time sections that wait
// on the server. Its zero value is free.
type Turn struct{ t turns }

// Lock waits for the turn, or returns ctx.Err() once ctx ends.
func (t *Turn) Lock(ctx context.Context) error { return t.t.take(ctx, true) }

// Unlock gives the turn back.
func (t *Turn) Unlock() { t.t.give(true) }
