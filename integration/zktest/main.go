package zktest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
	"go.uber.org/goleak"
)

// RunTests runs a package's tests against one cluster shared by all of
// them, for use from TestMain:
//
//	var cluster *zktest.Cluster
//
//	func TestMain(m *testing.M) { os.Exit(zktest.RunTests(m, &cluster)) }
//
// The cluster starts only if a test uses it, so that tests that need no
// server (parsing, paths, fuzz targets) run without Docker. Before running
// the tests, RunTests stores in *c a cluster that has not started: the
// first call of any of its methods other than [Cluster.Terminate] starts
// it from [Image], once, while concurrent callers wait. Examples take
// their servers from it too (cluster.Servers()), as a program takes them
// from its configuration.
//
// If the cluster cannot start, the use that needed it panics with the start
// error, and so would every later use. A panic in a test's or example's own
// goroutine is reported as that test's failure before it ends the test
// binary; one in another goroutine ends the binary at once. Either way the
// binary fails: no test is skipped for want of Docker, and none waits for
// a server that will not come. Tests that do not use the cluster are
// unaffected, and pass without Docker when run on their own.
//
// After the tests, RunTests terminates the cluster if it started and then
// checks that no goroutine leaked. It returns the exit code; invalid
// options make it return 1 without running the tests.
func RunTests(m *testing.M, c **Cluster, opts ...testcontainers.ContainerCustomizer) int {
	o := defaultOptions()
	for _, opt := range opts {
		if f, ok := opt.(Option); ok {
			f(&o)
		}
	}
	if err := o.validate(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// Quiet now, not at the start: it sets testcontainers' process-wide
	// logger, which tests calling Start may be reading by then.
	opts = append([]testcontainers.ContainerCustomizer{Quiet()}, opts...)
	start := func() (*Cluster, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cluster, err := Run(ctx, Image(), opts...)
		if err != nil {
			if cluster != nil {
				cluster.Terminate(context.Background())
			}
			return nil, fmt.Errorf("zktest: start the shared ZooKeeper from %s: %w", Image(), err)
		}
		return cluster, nil
	}
	fail := func(err error) { panic(err) }
	if code := runShared(m, c, start, fail); code != 0 {
		return code
	}
	if err := goleak.Find(); err != nil {
		fmt.Fprintln(os.Stderr, "zktest: goroutines leaked:", err)
		return 1
	}
	return 0
}

// runShared is RunTests without the leak check: it runs m with *c set to a
// cluster that start starts on first use, and fail reports a failed start
// (see [lazyCluster]). It then terminates the cluster if it started and
// returns m's exit code, or 1 if Terminate failed.
func runShared(m interface{ Run() int }, c **Cluster, start func() (*Cluster, error), fail func(error)) int {
	*c = &Cluster{lazy: &lazyCluster{start: start, fail: fail}}
	code := m.Run()
	if err := (*c).Terminate(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "zktest: terminate ZooKeeper:", err)
		return 1
	}
	return code
}

// ServersOrStart returns the ensemble named by ZK_SERVERS ("host:port,...")
// or, when it is unset, starts a throwaway single server (quietly) and
// returns its addresses. stop terminates what it started; call it when
// done. Examples and demos use it to run anywhere Docker runs.
func ServersOrStart(ctx context.Context) (servers []string, stop func(), err error) {
	if env := os.Getenv("ZK_SERVERS"); env != "" {
		return strings.Split(env, ","), func() {}, nil
	}
	c, err := Run(ctx, Image(), Quiet())
	stop = func() {
		if c != nil {
			c.Terminate(context.Background())
		}
	}
	if err != nil {
		stop()
		return nil, func() {}, fmt.Errorf("zktest: no ZK_SERVERS, and starting ZooKeeper from %s failed: %w", Image(), err)
	}
	return c.Servers(), stop, nil
}
