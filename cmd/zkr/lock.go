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
)

func lockCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	own, cmd := splitCmd(args)
	fs := flag.NewFlagSet("zkr lock", flag.ContinueOnError)
	servers := serversFlag(fs)
	timeout := fs.Duration("timeout", 0, "give up waiting for the lock after this long (default: wait)")
	try := fs.Bool("try", false, "exit at once with code 3 if the lock is held")
	read := fs.Bool("read", false, "take the read lock of a read-write lock")
	write := fs.Bool("write", false, "take the write lock of a read-write lock")
	grace := graceFlag(fs)
	if err := parseFlags(fs, own, stdout, lockHelp); err != nil {
		return err
	}
	path, err := onePath("lock", fs)
	if err != nil {
		return err
	}
	if *read && *write {
		return usageError("lock: --read and --write exclude each other")
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

	var h held
	var unlock func(context.Context) error
	switch {
	case *read || *write:
		m, err := rwlock.New(s, path)
		if err != nil {
			return err
		}
		acquire := map[[2]bool]func(context.Context) (*rwlock.Hold, error){
			{true, false}: m.RLock, {true, true}: m.TryRLock, {false, false}: m.Lock, {false, true}: m.TryLock,
		}[[2]bool{*read, *try}]
		rh, err := acquire(wctx)
		if err != nil {
			return acquireErr(ctx, err, *timeout)
		}
		h, unlock = rh, rh.Unlock
	default:
		m, err := lock.New(s, path)
		if err != nil {
			return err
		}
		acquire := m.Lock
		if *try {
			acquire = m.TryLock
		}
		lh, err := acquire(wctx)
		if err != nil {
			return acquireErr(ctx, err, *timeout)
		}
		h, unlock = lh, lh.Unlock
	}
	defer release(unlock)
	return runUnder(ctx, h, cmd, *grace)
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
