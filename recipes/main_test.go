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
