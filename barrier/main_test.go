package barrier_test

import (
	"os"
	"testing"

	"github.com/zkrecipes/zkrecipes/integration/zktest"
	"github.com/zkrecipes/zkrecipes/internal/testutil"
	"github.com/zkrecipes/zkrecipes/recipes"
)

var cluster *zktest.Cluster

func TestMain(m *testing.M) { os.Exit(zktest.RunTests(m, &cluster)) }

func session(t testing.TB) *recipes.Session { return testutil.Session(t, cluster.Servers()) }

var ctxFor = testutil.Ctx

var testPath = testutil.Path

var waitFor = testutil.WaitFor

// children returns the children of path as s sees them: none if there
// is no such node.
var children = testutil.Children

// servers returns the ensemble the examples use, as a program would read
// it from its configuration (e.g. "zk1:2181,zk2:2181,zk3:2181"): here the
// shared cluster's.
func servers() []string { return cluster.Servers() }
