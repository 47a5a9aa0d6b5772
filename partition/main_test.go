package partition_test

import (
	"os"
	"testing"

	"github.com/zkrecipes/zkrecipes/integration/zktest"
	"github.com/zkrecipes/zkrecipes/internal/testutil"
	"github.com/zkrecipes/zkrecipes/recipes"
)

// cluster is one real ZooKeeper server shared by the package's tests and
// examples; each test uses paths of its own.
var cluster *zktest.Cluster

func TestMain(m *testing.M) { os.Exit(zktest.RunTests(m, &cluster)) }

func session(t testing.TB) *recipes.Session { return testutil.Session(t, cluster.Servers()) }

func servers() []string { return cluster.Servers() }

var (
	ctxFor   = testutil.Ctx
	testPath = testutil.Path
	waitFor  = testutil.WaitFor
)
