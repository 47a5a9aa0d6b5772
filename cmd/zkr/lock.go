package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/zkrecipes/zkrecipes/lock"
	"github.com/zkrecipes/zkrecipes/multilock"
	"github.com/zkrecipes/zkrecipes/recipes"
	"github.com/zkrecipes/zkrecipes/rwlock"
	"github.com/zkrecipes/zkrecipes/semaphore"
)

// lockMode is what zkr lock takes: a mutex, a read or write hold, or one
// of n leases of a semaphore; try: without waiting; maxHold: the max hold
// its nodes declare (see declaredMaxHold).
type lockMode struct {
	read, write, try bool
	leases           int
	maxHold          time.Duration
}

// declaredMaxHold is the max hold zkr declares for --max-hold limit: zkr
// itself starts terminating CMD at limit, and the group may take grace
// and then killWait after SIGKILL to be gone. Declaring the whole of it
// keeps the next waiter from evicting the hold while CMD's processes
// still run.
func declaredMaxHold(limit, grace time.Duration) time.Duration {
	return limit + grace + killWait
}

func lockCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	own, cmd := splitCmd(args)
	fs := flag.NewFlagSet("zkr lock", flag.ContinueOnError)
	servers := connFlags(fs)
	timeout := fs.Duration("timeout", 0, "give up waiting for the lock after this long (default: wait)")
	var mode lockMode
	fs.BoolVar(&mode.try, "try", false, "exit at once with code 3 if the lock is held")
	fs.BoolVar(&mode.read, "read", false, "take the read lock of a read-write lock")
	fs.BoolVar(&mode.write, "write", false, "take the write lock of a read-write lock")
	fs.IntVar(&mode.leases, "n", 0, "take one of `N` leases of a semaphore (Curator's InterProcessSemaphoreV2 layout)")
	limit := fs.Duration("max-hold", 0, "hold at most this long: then CMD gets SIGTERM (SIGKILL after --grace), and zkr releases and exits 5; a zkr that cannot (stopped, hung) is evicted by the next waiter once this, --grace and 6s have passed")
	sessionTimeout := fs.Duration("session-timeout", recipes.DefaultSessionTimeout, "the ZooKeeper session timeout to ask for")
	heed := revocableFlag(fs)
	grace := graceFlag(fs)
	if err := parseFlags(fs, own, stdout, lockHelp); err != nil {
		return err
	}
	paths, err := somePaths("lock", fs)
	if err != nil {
		return err
	}
	dup := twice(paths)
	switch {
	case len(paths) > 1 && mode.try:
		return usageError("lock: --try takes one PATH")
	case len(paths) > 1 && *heed:
		return usageError("lock: --revocable takes one PATH")
	case len(paths) > 1 && *limit > 0:
		// Each lock's max hold would count from its own grant, the first
		// lock's possibly long before the command starts.
		return usageError("lock: --max-hold takes one PATH")
	case *timeout < 0:
		return usageError("lock: --timeout must not be negative")
	case dup != "":
		return usageError("lock: %s given twice", dup)
	case mode.read && mode.write:
		return usageError("lock: --read and --write exclude each other")
	case mode.leases < 1 && flagSet(fs, "n"):
		return usageError("lock: -n must be at least 1")
	case mode.leases > 0 && (mode.read || mode.write):
		return usageError("lock: -n takes a lease, not a read or write lock")
	case *limit < 0:
		return usageError("lock: --max-hold takes a positive duration")
	case *sessionTimeout <= 0:
		return usageError("lock: --session-timeout takes a positive duration")
	}
	if *limit > 0 {
		mode.maxHold = declaredMaxHold(*limit, *grace)
	}

	s, err := connect(ctx, servers, 10*time.Second, recipes.WithSessionTimeout(*sessionTimeout))
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
	h, unlock, err := takeAll(wctx, s, paths, mode)
	if err != nil {
		return acquireErr(ctx, err, *timeout)
	}
	defer release(unlock)
	return runUnder(ctx, h, revocable(h, *heed), command{args: cmd, grace: *grace, limit: *limit, stderr: stderr, lossGrace: lossGrace(s)})
}

// newSemaphore, newRW and newMutex make what mode says to take at p,
// with the max hold it asks for.
func newSemaphore(s *recipes.Session, p string, mode lockMode) (*semaphore.Semaphore, error) {
	return semaphore.New(s, p, mode.leases, semaphore.WithMaxHold(mode.maxHold))
}

func newRW(s *recipes.Session, p string, mode lockMode) (*rwlock.RWMutex, error) {
	return rwlock.New(s, p, rwlock.WithMaxHold(mode.maxHold))
}

func newMutex(s *recipes.Session, p string, mode lockMode) (*lock.Mutex, error) {
	return lock.New(s, p, lock.WithMaxHold(mode.maxHold))
}

// twice returns a path that paths hold twice, or "".
func twice(paths []string) string {
	seen := map[string]bool{}
	for _, p := range paths {
		if seen[p] {
			return p
		}
		seen[p] = true
	}
	return ""
}

// flagSet reports whether the flag name was given.
func flagSet(fs *flag.FlagSet, name string) (set bool) {
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// takeAll acquires what mode says at every path: at one, as take does; at
// several, all of them with a multi-lock, in path order.
func takeAll(ctx context.Context, s *recipes.Session, paths []string, mode lockMode) (held, func(context.Context) error, error) {
	if len(paths) == 1 {
		return take(ctx, s, paths[0], mode)
	}
	var parts []multilock.Part
	for _, p := range paths {
		part, err := partAt(s, p, mode)
		if err != nil {
			return nil, nil, err
		}
		parts = append(parts, part)
	}
	h, err := multilock.Lock(ctx, parts...)
	if err != nil {
		return nil, nil, err
	}
	return multiHeld{h}, h.Unlock, nil
}

// partAt is the part of a multi-lock that mode says to take at p.
func partAt(s *recipes.Session, p string, mode lockMode) (multilock.Part, error) {
	switch {
	case mode.leases > 0:
		m, err := newSemaphore(s, p, mode)
		return multilock.Lease(m), err
	case mode.read, mode.write:
		m, err := newRW(s, p, mode)
		if mode.read {
			return multilock.Read(m), err
		}
		return multilock.Write(m), err
	}
	m, err := newMutex(s, p, mode)
	return multilock.Mutex(m), err
}

// multiHeld is a multi-lock as zkr runs a command under it: its paths and
// tokens are those of its parts, in path order, separated by spaces.
type multiHeld struct{ *multilock.Hold }

func (m multiHeld) Path() string {
	var paths []string
	for _, p := range m.Holds() {
		paths = append(paths, p.Path())
	}
	return strings.Join(paths, " ")
}

func (m multiHeld) Token() int64 { return m.Holds()[0].Token() }

func (m multiHeld) tokens() string {
	var tokens []string
	for _, p := range m.Holds() {
		tokens = append(tokens, strconv.FormatInt(p.Token(), 10))
	}
	return strings.Join(tokens, " ")
}

// take acquires what mode says at path, and returns the hold and how to
// give it up.
func take(ctx context.Context, s *recipes.Session, path string, mode lockMode) (held, func(context.Context) error, error) {
	switch {
	case mode.leases > 0:
		m, err := newSemaphore(s, path, mode)
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
		m, err := newRW(s, path, mode)
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
	m, err := newMutex(s, path, mode)
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
