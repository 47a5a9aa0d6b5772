package main_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/integration/zktest"
	"github.com/zkrecipes/zkrecipes/lock"
	"github.com/zkrecipes/zkrecipes/recipes"
)

var (
	cluster *zktest.Cluster
	zkr     string // the built binary
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "zkr-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	zkr = filepath.Join(dir, "zkr")
	if out, err := exec.Command("go", "build", "-o", zkr, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build zkr: %v\n%s", err, out)
		os.Exit(1)
	}
	code := zktest.RunTests(m, &cluster)
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

// run runs zkr with args against the test cluster.
func run(t *testing.T, ctx context.Context, args ...string) result {
	t.Helper()
	return start(t, ctx, args...).wait()
}

// started is a zkr process started by the test.
type started struct {
	cmd        *exec.Cmd
	done       chan result
	stderrFile string // where its stderr goes, to read while it runs
	stdoutFile string // and its stdout
}

// start starts zkr with args against the test cluster. Its output goes to
// files, not pipes, so that its exit is seen when it exits, even if
// processes it leaves behind hold its output open.
func start(t *testing.T, ctx context.Context, args ...string) started {
	t.Helper()
	return startWith(t, ctx, func(*exec.Cmd) {}, args...)
}

// startWith starts zkr as start does, once setup has changed how (the
// user to run as, a shell to run it through).
func startWith(t *testing.T, ctx context.Context, setup func(*exec.Cmd), args ...string) started {
	t.Helper()
	cmd := exec.CommandContext(ctx, zkr, args...)
	setup(cmd)
	cmd.Env = append(os.Environ(), "ZK_SERVERS="+cluster.ConnectString())
	stdout, err := os.CreateTemp(t.TempDir(), "stdout")
	require.NoError(t, err)
	stderr, err := os.CreateTemp(t.TempDir(), "stderr")
	require.NoError(t, err)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	require.NoError(t, cmd.Start())
	done := make(chan result, 1)
	go func() {
		defer stdout.Close()
		defer stderr.Close()
		err := cmd.Wait()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			code = -1
		}
		out, _ := os.ReadFile(stdout.Name())
		errOut, _ := os.ReadFile(stderr.Name())
		done <- result{code, string(out), string(errOut)}
	}()
	return started{cmd, done, stderr.Name(), stdout.Name()}
}

// wait returns zkr's result. When the ctx zkr was started with ends, zkr
// is killed and its result has code -1.
func (s started) wait() result { return <-s.done }

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func mutex(t *testing.T, path string) *lock.Mutex {
	t.Helper()
	servers := cluster.Servers() // first: it may start the cluster
	s, err := recipes.Connect(ctxFor(t, 30*time.Second), servers)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	m, err := lock.New(s, path)
	require.NoError(t, err)
	return m
}

func TestLockRunsTheCommandWithItsNodeAndTokenAndExitCode(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	r := run(t, ctx, "lock", "/zkr/env", "--", "sh", "-c", `echo "$ZKR_LOCK_PATH $ZKR_FENCING_TOKEN"; exit 7`)
	assert.Equal(t, 7, r.code, "zkr exits with the command's code")
	fields := strings.Fields(r.stdout)
	require.Len(t, fields, 2, r.stdout)
	assert.True(t, strings.HasPrefix(fields[0], "/zkr/env/_c_"), fields[0])
	assert.NotEqual(t, "0", fields[1])
	assert.Empty(t, r.stderr)
}

// TestCommandKilledBySignalExits128PlusItsNumber: zkr exits as a shell
// says a command killed by a signal exited.
func TestCommandKilledBySignalExits128PlusItsNumber(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	for sig, code := range map[string]int{"KILL": 137, "TERM": 143, "SEGV": 139} {
		r := run(t, ctx, "lock", "/zkr/killed", "--", "sh", "-c", "kill -"+sig+" $$")
		assert.Equal(t, code, r.code, "%s: %s", sig, r.stderr)
	}
}

// TestLockOfSeveralPathsTakesThemAll: the command runs holding every
// path, taken in path order, and gets each node and token; one path held
// elsewhere keeps it waiting.
func TestLockOfSeveralPathsTakesThemAll(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	r := run(t, ctx, "lock", "/zkr/multi-b", "/zkr/multi-a", "--", "sh", "-c", `echo "$ZKR_LOCK_PATH"; echo "$ZKR_FENCING_TOKEN"`)
	require.Equal(t, 0, r.code, r.stderr)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 2, r.stdout)
	nodes, tokens := strings.Fields(lines[0]), strings.Fields(lines[1])
	require.Len(t, nodes, 2)
	require.Len(t, tokens, 2)
	assert.True(t, strings.HasPrefix(nodes[0], "/zkr/multi-a/_c_"), nodes[0])
	assert.True(t, strings.HasPrefix(nodes[1], "/zkr/multi-b/_c_"), nodes[1])

	h, err := mutex(t, "/zkr/multi-b").Lock(ctx)
	require.NoError(t, err)
	r = run(t, ctx, "lock", "--timeout", "300ms", "/zkr/multi-a", "/zkr/multi-b", "--", "true")
	assert.Equal(t, 1, r.code, "ran while one of its paths was held")
	require.NoError(t, h.Unlock(ctx))
	assert.Equal(t, 2, run(t, ctx, "lock", "--try", "/zkr/multi-a", "/zkr/multi-b", "--", "true").code, "--try with two paths")
}

func TestTryExitsWithBusyCodeWhileHeld(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	h, err := mutex(t, "/zkr/busy").Lock(ctx)
	require.NoError(t, err)
	r := run(t, ctx, "lock", "--try", "/zkr/busy", "--", "true")
	assert.Equal(t, 3, r.code)
	assert.Contains(t, r.stderr, "held by another")
	require.NoError(t, h.Unlock(ctx))
	assert.Equal(t, 0, run(t, ctx, "lock", "--try", "/zkr/busy", "--", "true").code)
}

func TestTimeoutGivesUpWaiting(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	h, err := mutex(t, "/zkr/timeout").Lock(ctx)
	require.NoError(t, err)
	defer h.Unlock(ctx)
	r := run(t, ctx, "lock", "--timeout", "300ms", "/zkr/timeout", "--", "true")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "not acquired within")
}

// TestTwoZkrProcessesExcludeEachOther: concurrent zkr processes each make
// a directory that must not exist, wait, and remove it; mkdir fails if two
// commands ever run at once.
func TestZkrProcessesExcludeEachOther(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	dir := t.TempDir()
	script := fmt.Sprintf(`mkdir %[1]s/inside || exit 9; sleep 0.1; rmdir %[1]s/inside`, dir)
	var wg sync.WaitGroup
	codes := make([]int, 4)
	for i := range codes {
		wg.Go(func() { codes[i] = run(t, ctx, "lock", "/zkr/exclusive", "--", "sh", "-c", script).code })
	}
	wg.Wait()
	assert.Equal(t, []int{0, 0, 0, 0}, codes, "exit 9 means two commands ran at once")
}

func TestCommandIsTerminatedWhenTheLockIsLost(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	started := filepath.Join(t.TempDir(), "started")
	done := make(chan result, 1)
	go func() {
		done <- run(t, ctx, "lock", "/zkr/lost", "--", "sh", "-c",
			`trap 'echo got TERM; exit 0' TERM; touch `+started+`; while :; do sleep 0.05; done`)
	}()
	m := mutex(t, "/zkr/lost")
	var holder recipes.Contender
	require.NoError(t, waitFor(ctx, func() bool {
		_, err := os.Stat(started) // the command runs, its trap set
		cs, cerr := m.Contenders(ctx)
		if err != nil || cerr != nil || len(cs) == 0 {
			return false
		}
		holder = cs[0]
		return true
	}))
	require.NoError(t, cluster.ExpireSession(ctx, holder.Session))
	r := <-done
	assert.Equal(t, 4, r.code)
	assert.Contains(t, r.stdout, "got TERM")
	assert.Contains(t, r.stderr, "lost /zkr/lost")
}

// TestEverySubcommandHasHelp: --help prints the subcommand's synopsis,
// every flag with a line and an example on stdout, and exits 0; a bad flag
// stays one line and exit 2.
func TestEverySubcommandHasHelp(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	for sub, flags := range map[string][]string{
		"lock":      {"--servers", "--auth", "--timeout", "--try", "--read", "--write", "--grace"},
		"elect":     {"--servers", "--id", "--observe", "--grace"},
		"inspect":   {"--servers", "--json"},
		"revoke":    {"--servers", "--wait", "--force"},
		"top":       {"--servers", "--json", "--interval", "--listen"},
		"deadlocks": {"--servers", "--older-than", "--json"},
		"group":     {"--servers", "--watch", "--json"},
		"partition": {"--servers", "--items", "--id", "--stability", "--grace"},
	} {
		r := run(t, ctx, sub, "--help")
		assert.Equal(t, 0, r.code, sub)
		assert.Contains(t, r.stdout, "usage: zkr "+sub, sub)
		assert.Contains(t, r.stdout, "examples:\n  zkr "+sub, sub)
		for _, f := range flags {
			assert.Contains(t, r.stdout, "\n  "+f+" ", "%s: %s", sub, f)
		}
		assert.Empty(t, r.stderr, sub)
		r = run(t, ctx, sub, "--bogus")
		assert.Equal(t, 2, r.code, sub)
		assert.Equal(t, 1, strings.Count(r.stderr, "\n"), "%s: %q", sub, r.stderr)
	}
}

// TestLeasesLetNCommandsRunAtOnce: five zkr processes share two leases of
// a semaphore. Each command puts a file of its own in a directory, counts
// the files there, and waits for the test's go-ahead before it takes its
// file away; the test gives it once two commands are in. No count is over
// 2: the other three only start once a lease is back.
func TestLeasesLetNCommandsRunAtOnce(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	dir, tmp := t.TempDir(), t.TempDir()
	log, goAhead := filepath.Join(tmp, "counts"), filepath.Join(tmp, "go")
	script := fmt.Sprintf(`f=$(mktemp -p %[1]s); ls %[1]s | wc -l >> %[2]s; while [ ! -e %[3]s ]; do sleep 0.01; done; rm "$f"`, dir, log, goAhead)
	var wg sync.WaitGroup
	codes := make([]int, 5)
	for i := range codes {
		wg.Go(func() { codes[i] = run(t, ctx, "lock", "-n", "2", "/zkr/leases", "--", "sh", "-c", script).code })
	}
	require.NoError(t, waitFor(ctx, func() bool { fs, _ := os.ReadDir(dir); return len(fs) >= 2 }), "two commands never ran at once")
	require.NoError(t, os.WriteFile(goAhead, nil, 0o644))
	wg.Wait()
	assert.Equal(t, []int{0, 0, 0, 0, 0}, codes)
	out, err := os.ReadFile(log)
	require.NoError(t, err)
	counts := strings.Fields(string(out))
	require.Len(t, counts, 5)
	for _, c := range counts {
		assert.Contains(t, []string{"1", "2"}, c, "%s commands ran at once with two leases", c)
	}
}

func TestBadArgumentsAndUnreachableServersGiveOneLineErrors(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	for _, args := range [][]string{{}, {"frobnicate"}, {"lock"}, {"lock", "no-slash"}, {"lock", "--read", "--write", "/x"}, {"lock", "-n", "2", "--read", "/x"}, {"lock", "-n", "-1", "/x"}, {"lock", "-n", "0", "/x"}, {"elect", "/x"},
		{"lock", "--revocable", "/x", "/y"}, {"revoke"}, {"revoke", "x"}, {"revoke", "--force", "--wait", "1s", "/x"},
		{"inspect", "--auth", "digest", "/x"}, {"inspect", "--auth", "digest:env:ZKR_TEST_UNSET", "/x"},
		{"partition", "/x", "--", "true"}, {"partition", "--items", "a", "/x"}, {"partition", "--items", "a/b", "/x", "--", "true"}} {
		r := run(t, ctx, args...)
		assert.Equal(t, 2, r.code, "%v", args)
		assert.NotContains(t, r.stderr, "goroutine", "%v", args)
	}
	cmd := exec.CommandContext(ctx, zkr, "lock", "--servers", "127.0.0.1:1", "/x")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	ee, ok := err.(*exec.ExitError)
	require.True(t, ok, "%v", err)
	assert.Equal(t, 1, ee.ExitCode())
	assert.Equal(t, 1, strings.Count(stderr.String(), "\n"), stderr.String())
}

// TestUsageRejectsBadInputBeforeConnecting: bad input is a usage error
// (exit 2, one line) before zkr connects: with no server to reach, it
// would otherwise fail (exit 1) or wait.
func TestUsageRejectsBadInputBeforeConnecting(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	for _, args := range [][]string{
		{"lock", "--timeout", "-1s", "/x"},
		{"lock", "/x", "/x"},
		{"lock", "/x", "/y", "/x", "--", "true"},
		{"lock", "--max-hold", "1m", "/x", "/y", "--", "true"},
		{"elect", "--id", "a", "/x"},
		{"elect", "--id", "a", "/x", "--"},
		{"elect", "--observe", "/x", "--", "true"},
		{"partition", "--items", "a,,b", "/x", "--", "true"},
		{"partition", "--items", "a,", "/x", "--", "true"},
		{"partition", "--items", "a/b", "/x", "--", "true"},
		{"partition", "--items", "a", "--id", "h/1", "/x", "--", "true"},
		{"top", "--listen", ":bad", "/x"},
		{"top", "--listen", "nonsense", "/x"},
	} {
		cmd := exec.CommandContext(ctx, zkr, args...)
		cmd.Env = append(os.Environ(), "ZK_SERVERS=127.0.0.1:1")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		ee, ok := err.(*exec.ExitError)
		require.True(t, ok, "%v: %v", args, err)
		assert.Equal(t, 2, ee.ExitCode(), "%v: %s", args, stderr.String())
		assert.Equal(t, 1, strings.Count(stderr.String(), "\n"), "%v: %q", args, stderr.String())
	}
}

func TestInspectShowsHolderAndWaiterInOrder(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	h, err := mutex(t, "/zkr/inspect").Lock(ctx)
	require.NoError(t, err)
	defer h.Unlock(ctx)
	waiter := mutex(t, "/zkr/inspect")
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go waiter.Lock(wctx)
	require.NoError(t, waitFor(ctx, func() bool { cs, _ := waiter.Contenders(ctx); return len(cs) == 2 }))

	j := inspectJSON(t, ctx, "/zkr/inspect")
	entries := j.Nodes
	require.Len(t, entries, 2)
	assert.Equal(t, "holder", entries[0].State)
	assert.Equal(t, "waiting", entries[1].State)
	assert.Equal(t, "zkrecipes", entries[0].Client)
	assert.Equal(t, h.Path(), "/zkr/inspect/"+entries[0].Name)
	cs, err := waiter.Contenders(ctx)
	require.NoError(t, err)
	assert.Equal(t, fmt.Sprintf("0x%x", cs[0].Session), entries[0].Session)

	r := run(t, ctx, "inspect", "/zkr/inspect")
	assert.Equal(t, 0, r.code)
	assert.Contains(t, r.stdout, "holder")
}

func TestElectRunsTheCommandWhileLeaderAndObserveSeesIt(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	octx, stop := context.WithCancel(ctx)
	var out bytes.Buffer
	obs := exec.CommandContext(octx, zkr, "elect", "--observe", "/zkr/elect")
	obs.Env = append(os.Environ(), "ZK_SERVERS="+cluster.ConnectString())
	obs.Stdout = &out
	require.NoError(t, obs.Start())
	r := run(t, ctx, "elect", "--id", "node-a", "/zkr/elect", "--", "sh", "-c", "echo leading; sleep 0.5")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "leading\n", r.stdout)
	stop()
	obs.Wait()
	assert.Contains(t, out.String(), `leader "node-a"`)
}

func waitFor(ctx context.Context, cond func() bool) error {
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}
