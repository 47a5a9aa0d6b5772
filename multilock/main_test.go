package multilock_test

import (
	"os"
	"testing"

	"github.com/zkrecipes/zkrecipes/integration/zktest"
	"github.com/zkrecipes/zkrecipes/internal/testutil"
	"github.com/zkrecipes/zkrecipes/recipes"
)

var cluster *zktest.Cluster

func TestMain(m *testing.M) {
	if spec := os.Getenv(workerEnv); spec != "" {
		os.Exit(worker(spec)) // a worker process of TestProcessesInOppositeOrders
	}
	os.Exit(zktest.RunTests(m, &cluster))
}

func session(t testing.TB) *recipes.Session { return testutil.Session(t, cluster.Servers()) }

// servers returns the ensemble the examples use: the shared cluster's.
func servers() []string { return cluster.Servers() }

var ctxFor = testutil.Ctx

var testPath = testutil.Path

var waitFor = testutil.WaitFor
