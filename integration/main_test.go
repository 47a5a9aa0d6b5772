package integration_test

import (
	"log/slog"
	"os"
	"testing"

	"github.com/zkrecipes/zkrecipes/integration/zktest"
	"github.com/zkrecipes/zkrecipes/internal/testutil"
	"github.com/zkrecipes/zkrecipes/recipes"
)

// cluster is one real ZooKeeper server shared by the suites in this
// package; each test uses paths of its own.
var cluster *zktest.Cluster

func TestMain(m *testing.M) { os.Exit(zktest.RunTests(m, &cluster)) }

func session(t testing.TB) *recipes.Session { return testutil.Session(t, cluster.Servers()) }

var ctxFor = testutil.Ctx

// quietLogger keeps expected session losses out of the test output.
var quietLogger = slog.New(slog.DiscardHandler)
