package recipes_test

import (
	"os"
	"testing"

	"github.com/zkrecipes/zkrecipes/integration/zktest"
)

// cluster is a real ZooKeeper server for the examples and tests that need
// one.
var cluster *zktest.Cluster

func TestMain(m *testing.M) { os.Exit(zktest.RunTests(m, &cluster)) }

// servers returns the ensemble the examples use, as a program would read
// it from its configuration (e.g. "zk1:2181,zk2:2181,zk3:2181"): here the
// shared cluster's.
func servers() []string { return cluster.Servers() }
