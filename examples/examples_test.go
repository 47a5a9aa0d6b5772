// Package examples_test builds and runs the example programs against a real
// ZooKeeper server, so that what a newcomer runs first keeps working.
package examples_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/integration/zktest"
)

var cluster *zktest.Cluster

func TestMain(m *testing.M) { os.Exit(zktest.RunTests(m, &cluster)) }

// runExample builds ./name and runs it with args against the test server.
func runExample(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bin := filepath.Join(t.TempDir(), name)
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "./"+name).CombinedOutput()
	require.NoError(t, err, "%s", out)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "ZK_SERVERS="+cluster.ConnectString())
	out, err = cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	return string(out)
}

func TestInventorySellsEverythingAndOversellsNothingWhenAWorkerIsKilled(t *testing.T) {
	out := runExample(t, "inventory", "-workers", "3", "-items", "20", "-kill")
	assert.Contains(t, out, "killed worker 0 while it held the lock")
	assert.Contains(t, out, "items sold:      20 of 20 (0 left)")
	assert.Contains(t, out, "items oversold:  0")
}

// The seller of the first item loses the reply, then its session: the sale
// was made, and it must be counted (it was not: "stock record says 0 left
// after 19 sales of 20").
func TestInventoryCountsASaleWhoseReplyWasLostWithTheSession(t *testing.T) {
	out := runExample(t, "inventory", "-workers", "3", "-items", "20", "-expire")
	assert.Contains(t, out, "lost the reply to a sale; its receipt shows the sale was made")
	assert.Contains(t, out, "lost its session and started a new one")
	assert.Contains(t, out, "items sold:      20 of 20 (0 left)")
	assert.Contains(t, out, "items oversold:  0")
}

func TestSharedFileReadersNeverSeeATornFile(t *testing.T) {
	assert.Contains(t, runExample(t, "sharedfile"), "torn reads: 0")
}

func TestSchedulerHandsOverToEveryReplica(t *testing.T) {
	out := runExample(t, "scheduler")
	for _, r := range []string{"replica-a", "replica-b", "replica-c"} {
		assert.Contains(t, out, r+" leads: scheduled job 2")
	}
}

// TestMetricsServesTheRecipesSeries: the metrics example serves, through
// the OpenTelemetry SDK and Prometheus's exporter, one grant per sale
// (and one per worker that found the stock empty), with their waits and
// holds.
func TestMetricsServesTheRecipesSeries(t *testing.T) {
	out := runExample(t, "metrics", "-listen", "127.0.0.1:0", "-workers", "3", "-items", "10")
	assert.Contains(t, out, "sold 10 items")
	assert.Regexp(t, `zkrecipes_acquisitions_total\{[^}]*zkrecipes_outcome="granted",zkrecipes_path="/examples/metrics/lock",zkrecipes_recipe="lock"\} 13\n`, out)
	assert.Regexp(t, `zkrecipes_wait_duration_seconds_count\{[^}]*zkrecipes_outcome="granted"[^}]*\} 13\n`, out)
	assert.Regexp(t, `zkrecipes_hold_duration_seconds_count\{[^}]*zkrecipes_end="released"[^}]*\} 13\n`, out)
}
