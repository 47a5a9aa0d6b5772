package semaphore_test

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/integration/zktest"
	"github.com/zkrecipes/zkrecipes/internal/testutil"
	"github.com/zkrecipes/zkrecipes/recipes"
	"github.com/zkrecipes/zkrecipes/semaphore"
)

var cluster *zktest.Cluster

func TestMain(m *testing.M) { os.Exit(zktest.RunTests(m, &cluster)) }

func session(t testing.TB, servers []string, opts ...recipes.Option) *recipes.Session {
	if servers == nil {
		servers = cluster.Servers()
	}
	return testutil.Session(t, servers, opts...)
}

// servers returns the ensemble the examples use, as a program would read
// it from its configuration: here the shared cluster's.
func servers() []string { return cluster.Servers() }

// newSem returns the semaphore at path with max leases on s.
func newSem(t testing.TB, s *recipes.Session, path string, max int) *semaphore.Semaphore {
	t.Helper()
	m, err := semaphore.New(s, path, max)
	require.NoError(t, err)
	return m
}

var ctxFor = testutil.Ctx

var testPath = testutil.Path

var waitFor = testutil.WaitFor
