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
// It starts the cluster from [Image] (failing, not skipping, when it
// cannot), stores it in *c, sets ZK_SERVERS to its connect string (so that
// examples read their servers as a program would), runs the tests,
// terminates the cluster and then checks that no goroutine leaked. It
// returns the exit code.
func RunTests(m *testing.M, c **Cluster, opts ...testcontainers.ContainerCustomizer) int {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cluster, err := Run(ctx, Image(), append([]testcontainers.ContainerCustomizer{Quiet()}, opts...)...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "zktest: start ZooKeeper:", err)
		if cluster != nil {
			cluster.Terminate(context.Background())
		}
		return 1
	}
	*c = cluster
	os.Setenv("ZK_SERVERS", cluster.ConnectString())
	code := m.Run()
	if err := cluster.Terminate(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "zktest: terminate ZooKeeper:", err)
		return 1
	}
	if code != 0 {
		return code
	}
	if err := goleak.Find(); err != nil {
		fmt.Fprintln(os.Stderr, "zktest: goroutines leaked:", err)
		return 1
	}
	return 0
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
