package multilock_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/internal/testutil"
	"github.com/zkrecipes/zkrecipes/lock"
	"github.com/zkrecipes/zkrecipes/multilock"
	"github.com/zkrecipes/zkrecipes/recipes"
)

// workerEnv carries a worker's job to the test binary run as a worker.
const workerEnv = "MULTILOCK_WORKER"

type job struct {
	Servers []string
	Dir     string   // where a holder of a path makes the path's directory
	Paths   []string // in the order the worker lists them
	Rounds  int
}

// TestProcessesInOppositeOrdersNeverDeadlock: four worker processes lock
// pairs of three paths, listing them so that they would wait in a cycle
// (a before b, b before c, c before a, and b before a), 250 rounds each.
// Every round completes, and no two processes ever hold one path at once:
// each holder makes a directory per path it holds, which must not exist.
func TestProcessesInOppositeOrdersNeverDeadlock(t *testing.T) {
	ctx := ctxFor(t, 3*time.Minute)
	base := testPath(t)
	a, b, c := base+"/a", base+"/b", base+"/c"
	dir := t.TempDir()
	var cmds []*exec.Cmd
	for _, paths := range [][]string{{a, b}, {b, c}, {c, a}, {b, a}} {
		spec, err := json.Marshal(job{Servers: cluster.Servers(), Dir: dir, Paths: paths, Rounds: 250})
		require.NoError(t, err)
		cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), workerEnv+"="+string(spec))
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		require.NoError(t, cmd.Start())
		cmds = append(cmds, cmd)
	}
	for i, cmd := range cmds {
		assert.NoError(t, cmd.Wait(), "worker %d (exit 9: two holders of one path; killed: deadlocked until the test's end)", i)
	}
	s := session(t)
	for _, p := range []string{a, b, c} {
		assert.Empty(t, testutil.Children(t, s, p), "left under %s", p)
	}
}

// worker runs a job and returns the process's exit code.
func worker(spec string) int {
	var j job
	if err := json.Unmarshal([]byte(spec), &j); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		return 2
	}
	ctx := context.Background()
	s, err := recipes.Connect(ctx, j.Servers)
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		return 1
	}
	defer s.Close()
	var parts []multilock.Part
	for _, p := range j.Paths {
		m, err := lock.New(s, p)
		if err != nil {
			fmt.Fprintln(os.Stderr, "worker:", err)
			return 1
		}
		parts = append(parts, multilock.Mutex(m))
	}
	for range j.Rounds {
		h, err := multilock.Lock(ctx, parts...)
		if err != nil {
			fmt.Fprintln(os.Stderr, "worker:", err)
			return 1
		}
		for _, p := range j.Paths {
			if err := os.Mkdir(filepath.Join(j.Dir, path.Base(p)), 0o755); err != nil {
				fmt.Fprintln(os.Stderr, "worker: two holders of", p, err)
				return 9
			}
		}
		for _, p := range j.Paths {
			os.Remove(filepath.Join(j.Dir, path.Base(p)))
		}
		if err := h.Unlock(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "worker:", err)
			return 1
		}
	}
	return 0
}
