package barrier

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-zookeeper/zk"

	"github.com/zkrecipes/zkrecipes/recipes"
)

// Barrier is a barrier at one ZooKeeper path: while its node exists, Wait
// blocks. The node is persistent, so a barrier outlives the process that
// set it until someone removes it. A Barrier is safe for concurrent use.
type Barrier struct {
	s    *recipes.Session
	path string
}

// New returns the barrier at path on session s. It checks path and makes
// no server call.
func New(s *recipes.Session, path string) (*Barrier, error) {
	if err := recipes.ValidatePath(path); err != nil {
		return nil, fmt.Errorf("barrier: %w", err)
	}
	return &Barrier{s: s, path: path}, nil
}

// Set raises the barrier (creating its parents as CONTAINER nodes). Setting
// a barrier that is set is not an error.
func (b *Barrier) Set(ctx context.Context) error {
	_, err := b.s.Create(ctx, b.path, nil, 0)
	if err != nil && !errors.Is(err, zk.ErrNodeExists) {
		return fmt.Errorf("barrier %s: set: %w", b.path, err)
	}
	return nil
}

// Remove lowers the barrier, releasing every waiter. Removing a barrier
// that is not set is not an error.
func (b *Barrier) Remove(ctx context.Context) error {
	_, err := recipes.Call(ctx, b.s, func(conn *zk.Conn) (struct{}, error) { return struct{}{}, conn.Delete(b.path, -1) })
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		return fmt.Errorf("barrier %s: remove: %w", b.path, err)
	}
	return nil
}

// Wait blocks until the barrier is removed, and returns at once if it is
// not set. If ctx ends first it returns ctx.Err(); if the session is lost,
// an error matching recipes.ErrLost.
func (b *Barrier) Wait(ctx context.Context) error {
	type exists struct {
		ok    bool
		watch <-chan zk.Event
	}
	for {
		e, err := recipes.Call(ctx, b.s, func(conn *zk.Conn) (exists, error) {
			ok, _, ch, err := conn.ExistsW(b.path)
			return exists{ok, ch}, err
		})
		if recipes.Retryable(err) {
			err = b.s.WaitConnected(ctx)
			if err == nil {
				continue
			}
		}
		if err != nil {
			return fmt.Errorf("barrier %s: wait: %w", b.path, err)
		}
		if !e.ok {
			return nil
		}
		select {
		case <-e.watch:
		case <-b.s.Done():
			return fmt.Errorf("barrier %s: wait: %w", b.path, b.s.Err())
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
