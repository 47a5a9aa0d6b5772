package zktest

import (
	"context"
	"errors"
	"sync"
)

// lazyCluster is the cluster of [RunTests]. It starts on first use, once,
// so that a test binary whose selected tests use no server runs without
// Docker. It is safe for concurrent use.
type lazyCluster struct {
	// start starts the cluster. If it fails, it terminates whatever it made
	// and returns the error.
	start func() (*Cluster, error)
	// fail reports that the cluster could not start to the code that
	// needed it, and does not return.
	fail func(error)

	once sync.Once
	c    *Cluster // the started cluster, once set by once
	err  error    // why c is nil, once set by once
}

// cluster returns the started cluster, starting it on the first call;
// concurrent callers wait for that start to end. If the cluster did not
// start, every call hands the error to fail instead of returning.
func (l *lazyCluster) cluster() *Cluster {
	l.once.Do(func() {
		l.err = errors.New("zktest: starting the shared cluster panicked") // unless start returns
		l.c, l.err = l.start()
	})
	if l.err != nil {
		l.fail(l.err)
		panic(l.err) // fail does not return; should it, neither does this
	}
	return l.c
}

// terminate terminates the cluster if it started, once a start under way
// has ended. If it never started, it never will: a later use fails.
func (l *lazyCluster) terminate(ctx context.Context) error {
	l.once.Do(func() { l.err = errors.New("zktest: shared cluster used after its tests ended") })
	if l.c == nil {
		return nil
	}
	return l.c.Terminate(ctx)
}

// started returns the cluster that c's methods act on: c itself or, for the
// cluster of [RunTests], the shared cluster, which this starts on first use
// (see RunTests for what a failed start does).
func (c *Cluster) started() *Cluster {
	if c.lazy == nil {
		return c
	}
	return c.lazy.cluster()
}
