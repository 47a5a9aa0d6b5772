package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/zkrecipes/zkrecipes/lock"
	"github.com/zkrecipes/zkrecipes/recipes"
	"github.com/zkrecipes/zkrecipes/rwlock"
	"github.com/zkrecipes/zkrecipes/semaphore"
)

// lockMode is what zkr lock takes: a mutex, a read or write hold, or one
// of n leases of a semaphore; try: without waiting.
type lockMode struct {
	read, write, try bool
	leases           int
}

func lockCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	own, cmd := splitCmd(args)
	fs := flag.NewFlagSet("zkr lock", flag.ContinueOnError)
	servers := serversFlag(fs)
	timeout := fs.Duration("timeout", 0, "give up waiting for the lock after this long (default: wait)")
	var mode lockMode
	fs.BoolVar(&mode.try, "try", false, "exit at once with code 3 if the lock is held")
	fs.BoolVar(&mode.read, "read", false, "take the read lock of a read-write lock")
	fs.BoolVar(&mode.write, "write", false, "take the write lock of a read-write lock")
	fs.IntVar(&mode.leases, "n", 0, "take one of `N` leases of a semaphore (Curator's InterProcessSemaphoreV2 layout)")
	grace := graceFlag(fs)
	if err := parseFlags(fs, own, stdout, lockHelp); err != nil {
		return err
	}
	path, err := onePath("lock", fs)
	if err != nil {
		return err
	}
	switch {
	case mode.read && mode.write:
		return usageError("lock: --read and --write exclude each other")
	case mode.leases < 1 && flagSet(fs, "n"):
		return usageError("lock: -n must be at least 1")
	case mode.leases > 0 && (mode.read || mode.write):
		return usageError("lock: -n takes a lease, not a read or write lock")
	}

	s, err := connect(ctx, *servers, 10*time.Second)
	if err != nil {
		return err
	}
	defer s.Close()
	wctx := ctx
	if *timeout > 0 {
		var cancel context.CancelFunc
		wctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	h, unlock, err := take(wctx, s, path, mode)
	if err != nil {
		return acquireErr(ctx, err, *timeout)
	}
	defer release(unlock)
	return runUnder(ctx, h, cmd, *grace)
}

// flagSet reports whether the flag name was given.
func flagSet(fs *flag.FlagSet, name string) (set bool) {
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// take acquires what mode says at path, and returns the hold and how to
// give it up.
func take(ctx context.Context, s *recipes.Session, path string, mode lockMode) (held, func(context.Context) error, error) {
	switch {
	case mode.leases > 0:
		m, err := semaphore.New(s, path, mode.leases)
		if err != nil {
			return nil, nil, err
		}
		acquire := m.Acquire
		if mode.try {
			acquire = m.TryAcquire
		}
		l, err := acquire(ctx)
		if err != nil {
			return nil, nil, err
		}
		return l, l.Unlock, nil
	case mode.read || mode.write:
		m, err := rwlock.New(s, path)
		if err != nil {
			return nil, nil, err
		}
		acquire := map[[2]bool]func(context.Context) (*rwlock.Hold, error){
			{true, false}: m.RLock, {true, true}: m.TryRLock, {false, false}: m.Lock, {false, true}: m.TryLock,
		}[[2]bool{mode.read, mode.try}]
		h, err := acquire(ctx)
		if err != nil {
			return nil, nil, err
		}
		return h, h.Unlock, nil
	}
	m, err := lock.New(s, path)
	if err != nil {
		return nil, nil, err
	}
	acquire := m.Lock
	if mode.try {
		acquire = m.TryLock
	}
	h, err := acquire(ctx)
	if err != nil {
		return nil, nil, err
	}
	return h, h.Unlock, nil
}

func acquireErr(ctx context.Context, err error, timeout time.Duration) error {
	switch {
	case errors.Is(err, recipes.ErrWouldBlock):
		return exitErr{exitBusy, errors.New("lock is held by another process")}
	case ctx.Err() != nil:
		return exitErr{exitInterrupted, errors.New("interrupted while waiting for the lock")}
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("lock not acquired within %v", timeout)
	}
	return err
}
