package main_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/integration/zktest"
	"github.com/zkrecipes/zkrecipes/lock"
	"github.com/zkrecipes/zkrecipes/recipes"
)

// backgroundChild is a script for sh -c: it starts a background subshell
// that writes a heartbeat file until killed (ignoring SIGTERM if stubborn),
// writes the subshell's pid into a file, and waits for it.
type backgroundChild struct {
	dir       string
	heartbeat string
	pidFile   string
}

func newBackgroundChild(t *testing.T) backgroundChild {
	dir := t.TempDir()
	return backgroundChild{dir, filepath.Join(dir, "heartbeat"), filepath.Join(dir, "pid")}
}

func (b backgroundChild) script(stubborn bool) string {
	trap := ""
	if stubborn {
		trap = "trap '' TERM; "
	}
	return fmt.Sprintf(`(%swhile :; do date > %s; sleep 0.05; done) & echo $! > %s.tmp && mv %s.tmp %s; wait`,
		trap, b.heartbeat, b.pidFile, b.pidFile, b.pidFile)
}

// pid waits for the background subshell to run and returns its pid. A
// subshell left running (by a zkr that failed the test) is killed at the
// end of the test.
func (b backgroundChild) pid(t *testing.T, ctx context.Context) int {
	t.Helper()
	var pid int
	require.NoError(t, waitFor(ctx, func() bool {
		data, err := os.ReadFile(b.pidFile)
		if err != nil {
			return false
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(data)))
		return err == nil
	}), "the command did not start its background child")
	t.Cleanup(func() {
		// Only the subshell itself, known by the heartbeat path in its
		// command line: never a process that reused the pid.
		if cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && bytes.Contains(cmdline, []byte(b.heartbeat)) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	return pid
}

// alive reports whether a process with pid exists, zombies included.
func alive(pid int) bool {
	return !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// TestAnInterruptEndsTheWholeProcessGroupBeforeExiting128PlusN: SIGTERM,
// and SIGQUIT (Ctrl-\) like it: the command's processes are terminated,
// the lock released, and zkr exits 128 + the signal's number with one
// line, and no stack dump.
func TestAnInterruptEndsTheWholeProcessGroupBeforeExiting128PlusN(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGQUIT} {
		t.Run(sig.String(), func(t *testing.T) {
			ctx := ctxFor(t, time.Minute)
			path := "/zkr/interrupt-" + strconv.Itoa(int(sig))
			b := newBackgroundChild(t)
			z := start(t, ctx, "lock", path, "--", "sh", "-c", b.script(false))
			pid := b.pid(t, ctx)
			require.NoError(t, z.cmd.Process.Signal(sig))
			r := z.wait()
			assert.False(t, alive(pid), "the command's background child outlived zkr")
			assert.Equal(t, 128+int(sig), r.code, r.stderr)
			assert.Equal(t, 1, strings.Count(r.stderr, "\n"), r.stderr)
			assert.False(t, strings.Contains(r.stderr, "goroutine "), "zkr dumped its stacks")
			cs, err := mutex(t, path).Contenders(ctx)
			require.NoError(t, err)
			assert.Empty(t, cs, "zkr left its node")
			assert.Equal(t, 0, run(t, ctx, "lock", "--try", path, "--", "true").code, "zkr released the lock")
		})
	}
}

func TestLostLockEndsTheWholeProcessGroupBeforeExiting4(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	b := newBackgroundChild(t)
	z := start(t, ctx, "lock", "/zkr/lost-group", "--", "sh", "-c", b.script(false))
	pid := b.pid(t, ctx)
	cs, err := mutex(t, "/zkr/lost-group").Contenders(ctx)
	require.NoError(t, err)
	require.Len(t, cs, 1)
	require.NoError(t, cluster.ExpireSession(ctx, cs[0].Session))
	r := z.wait()
	assert.False(t, alive(pid), "the command's background child outlived zkr")
	assert.Equal(t, 4, r.code, r.stderr)
	assert.Contains(t, r.stderr, "lost /zkr/lost-group")
}

// TestStubbornChildIsKilledAfterTheGraceAndOnlyThenReleased: a background
// child that ignores SIGTERM is killed after the grace period, and the next
// contender gets the lock only once it is gone.
func TestStubbornChildIsKilledAfterTheGraceAndOnlyThenReleased(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	const grace = time.Second
	b := newBackgroundChild(t)
	z := start(t, ctx, "lock", "--grace", grace.String(), "/zkr/stubborn", "--", "sh", "-c", b.script(true))
	pid := b.pid(t, ctx)

	next := mutex(t, "/zkr/stubborn")
	aliveAtGrant := make(chan bool, 1)
	go func() {
		h, err := next.Lock(ctx)
		if err != nil {
			t.Errorf("next contender: %v", err)
			aliveAtGrant <- true
			return
		}
		aliveAtGrant <- alive(pid)
		h.Unlock(ctx)
	}()
	require.NoError(t, waitFor(ctx, func() bool { cs, _ := next.Contenders(ctx); return len(cs) == 2 }))

	signalled := time.Now()
	require.NoError(t, z.cmd.Process.Signal(syscall.SIGTERM))
	r := z.wait()
	assert.False(t, alive(pid), "the stubborn child outlived zkr")
	assert.GreaterOrEqual(t, time.Since(signalled), grace, "killed before the grace period ended")
	assert.Equal(t, 143, r.code, r.stderr)
	assert.False(t, <-aliveAtGrant, "the next contender got the lock while the stubborn child ran")
}

func TestElectSigintEndsTheWholeProcessGroupBeforeExiting130(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	b := newBackgroundChild(t)
	z := start(t, ctx, "elect", "--id", "a", "/zkr/elect-sigint", "--", "sh", "-c", b.script(false))
	pid := b.pid(t, ctx)
	require.NoError(t, z.cmd.Process.Signal(syscall.SIGINT))
	r := z.wait()
	assert.False(t, alive(pid), "the command's background child outlived zkr")
	assert.Equal(t, 130, r.code, r.stderr)
}

// TestHoldLastsUntilBackgroundChildrenExit: CMD's exit leaves its
// background child running; zkr holds (and waits) until it is done, as
// flock(1) does.
func TestHoldLastsUntilBackgroundChildrenExit(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	dir := t.TempDir()
	finished := filepath.Join(dir, "finished")
	r := run(t, ctx, "lock", "/zkr/background", "--", "sh", "-c",
		fmt.Sprintf(`(sleep 0.3; touch %s) & exit 5`, finished))
	assert.Equal(t, 5, r.code, r.stderr)
	assert.FileExists(t, finished, "zkr exited before the command's background child finished")
}

// TestObserverSaysSoWhenItsSessionIsLost: an observer whose session
// expires exits non-zero with one line.
func TestObserverSaysSoWhenItsSessionIsLost(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	const path = "/zkr/observe-lost"
	z := start(t, ctx, "elect", "--observe", path)
	var session int64
	require.NoError(t, waitFor(ctx, func() bool {
		session = watcherOf(ctx, path)
		return session != 0
	}), "the observer does not watch %s", path)
	require.NoError(t, cluster.ExpireSession(ctx, session))
	r := z.wait()
	assert.Equal(t, 4, r.code, r.stderr)
	assert.Equal(t, 1, strings.Count(r.stderr, "\n"), r.stderr)
	assert.Contains(t, r.stderr, "stopped observing "+path)
}

// watcherOf returns the session watching path (or its existence), from
// the servers' wchp, or 0.
func watcherOf(ctx context.Context, path string) int64 {
	for _, m := range cluster.Members() {
		out, err := m.FourLetterWord(ctx, "wchp")
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(strings.NewReader(out))
		in := false
		for sc.Scan() {
			line := sc.Text()
			if !strings.HasPrefix(line, "\t") {
				in = line == path
				continue
			}
			if id, err := strconv.ParseInt(strings.TrimPrefix(strings.TrimSpace(line), "0x"), 16, 64); in && err == nil {
				return id
			}
		}
	}
	return 0
}

// TestHoldLastsUntilProcessesThatLeftTheGroupExit: CMD starts a process
// that leaves its process group (setsid, as a daemon does) and exits; zkr
// holds, and waits, until that process is done too.
func TestHoldLastsUntilProcessesThatLeftTheGroupExit(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	finished := filepath.Join(t.TempDir(), "finished")
	r := run(t, ctx, "lock", "/zkr/setsid", "--", "sh", "-c",
		fmt.Sprintf(`(exec setsid sh -c 'sleep 0.3; touch %s') & exit 5`, finished))
	assert.Equal(t, 5, r.code, r.stderr)
	assert.FileExists(t, finished, "zkr exited before the process that left the group finished")
}

// TestStopEndsProcessesThatLeftTheGroup: a zkr interrupted while its
// command, another zkr, runs a job that ignores SIGTERM and a daemon that
// left every group of theirs (a double fork and setsid) kills them all
// after its grace, before it exits; the inner zkr's longer grace does not
// keep them alive.
func TestStopEndsProcessesThatLeftTheGroup(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	dir := t.TempDir()
	job, daemon := filepath.Join(dir, "job"), filepath.Join(dir, "daemon")
	script := fmt.Sprintf(`trap '' TERM; (setsid sh -c 'echo $$ > %[2]s.tmp; mv %[2]s.tmp %[2]s; exec sleep 67.89' &); echo $$ > %[1]s.tmp; mv %[1]s.tmp %[1]s; while :; do sleep 0.05; done`, job, daemon)
	z := start(t, ctx, "lock", "--grace", "1s", "/zkr/nested-outer", "--", zkr, "lock", "/zkr/nested-inner", "--", "sh", "-c", script)
	pids := []int{pidIn(t, ctx, job, job), pidIn(t, ctx, daemon, "67.89")}
	require.NoError(t, z.cmd.Process.Signal(syscall.SIGTERM))
	r := z.wait()
	assert.Equal(t, 143, r.code, r.stderr)
	for _, pid := range pids {
		assert.False(t, alive(pid), "process %d outlived zkr", pid)
	}
}

// TestSignalsIgnoredAtStartStayIgnored: a zkr started with SIGHUP
// ignored (as nohup starts it) leaves it ignored, for itself and for its
// command: a SIGHUP ends neither.
func TestSignalsIgnoredAtStartStayIgnored(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	dir := t.TempDir()
	ignored, goAhead := filepath.Join(dir, "ignored"), filepath.Join(dir, "go")
	nohup := func(cmd *exec.Cmd) {
		cmd.Path = "/bin/sh"
		cmd.Args = append([]string{"sh", "-c", `trap '' HUP; exec "$0" "$@"`}, cmd.Args...)
	}
	z := startWith(t, ctx, nohup, "lock", "/zkr/nohup", "--", "sh", "-c", reportIgnored(ignored, goAhead, 0))
	sigIgn := ignoredBy(t, ctx, ignored)
	assert.NotZero(t, sigIgn&(1<<(syscall.SIGHUP-1)), "the command does not ignore SIGHUP")
	// zkr itself ignores it, so the SIGHUP sent next is discarded as it is
	// sent, before the command is told to go ahead.
	assert.True(t, inMask(z.cmd.Process.Pid, "SigIgn", syscall.SIGHUP), "zkr does not ignore SIGHUP")

	require.NoError(t, z.cmd.Process.Signal(syscall.SIGHUP))
	require.NoError(t, os.WriteFile(goAhead, nil, 0o644))
	r := z.wait()
	assert.Equal(t, 0, r.code, "SIGHUP ended zkr: %s", r.stderr)
}

// reportIgnored is a shell command that writes the signals it ignores
// (its SigIgn line) to file, waits until goAhead exists, and exits code.
func reportIgnored(file, goAhead string, code int) string {
	return fmt.Sprintf(`grep SigIgn /proc/$$/status > %[1]s.tmp && mv %[1]s.tmp %[1]s; while [ ! -e %[2]s ]; do sleep 0.05; done; exit %[3]d`, file, goAhead, code)
}

// ignoredBy waits for what reportIgnored writes to file, and returns the
// mask of ignored signals (bit N-1 for signal N).
func ignoredBy(t *testing.T, ctx context.Context, file string) uint64 {
	t.Helper()
	var sigIgn uint64
	require.NoError(t, waitFor(ctx, func() bool {
		data, err := os.ReadFile(file)
		_, err2 := fmt.Sscanf(string(data), "SigIgn: %x", &sigIgn)
		return err == nil && err2 == nil
	}), "the command never ran")
	return sigIgn
}

// TestJobControlDoesNotStopZkr: SIGTSTP (Ctrl-Z), SIGTTIN and SIGTTOU
// stop neither zkr nor its hold: it exits with its command's code once
// the command ends. The command keeps the default action of SIGTSTP and
// SIGTTIN.
func TestJobControlDoesNotStopZkr(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	for _, sig := range []syscall.Signal{syscall.SIGTSTP, syscall.SIGTTIN, syscall.SIGTTOU} {
		dir := t.TempDir()
		ignored, goAhead := filepath.Join(dir, "ignored"), filepath.Join(dir, "go")
		z := start(t, ctx, "lock", "/zkr/job-control", "--", "sh", "-c", reportIgnored(ignored, goAhead, 7))
		sigIgn := ignoredBy(t, ctx, ignored)
		for _, s := range []syscall.Signal{syscall.SIGTSTP, syscall.SIGTTIN} {
			assert.Zero(t, sigIgn&(1<<(s-1)), "the command ignores %v", s)
		}

		require.NoError(t, z.cmd.Process.Signal(sig))
		require.NoError(t, waitFor(ctx, func() bool { return !pending(z.cmd.Process.Pid, sig) }))
		require.NoError(t, os.WriteFile(goAhead, nil, 0o644))
		select {
		case r := <-z.done:
			assert.Equal(t, 7, r.code, "%v: %s", sig, r.stderr)
		case <-time.After(15 * time.Second):
			t.Errorf("%v stopped zkr: it did not exit once its command ended", sig)
			z.cmd.Process.Signal(syscall.SIGCONT)
			z.wait()
		}
	}
}

// pending reports whether sig is pending for the process pid.
func pending(pid int, sig syscall.Signal) bool { return inMask(pid, "ShdPnd", sig) }

// inMask reports whether sig is in the signal mask field (ShdPnd, SigIgn)
// of /proc/PID/status; false if it cannot be read.
func inMask(pid int, field string, sig syscall.Signal) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		var mask uint64
		if _, err := fmt.Sscanf(line, field+": %x", &mask); err == nil {
			return mask&(1<<(sig-1)) != 0
		}
	}
	return false
}

// pidIn waits for a pid to be written into file and returns it. The
// process, if still running when the test ends (known by marker in its
// command line), is killed then.
func pidIn(t *testing.T, ctx context.Context, file, marker string) int {
	t.Helper()
	var pid int
	require.NoError(t, waitFor(ctx, func() bool {
		data, err := os.ReadFile(file)
		if err != nil {
			return false
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(data)))
		return err == nil
	}), "no pid in %s", file)
	t.Cleanup(func() {
		if cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && bytes.Contains(cmdline, []byte(marker)) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	return pid
}

// TestInterruptedHoldWithoutCommandExits143AndReleases: zkr lock without
// CMD holds until SIGTERM, then releases and exits 143, as documented.
func TestInterruptedHoldWithoutCommandExits143AndReleases(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	z := start(t, ctx, "lock", "/zkr/hold-only")
	m := mutex(t, "/zkr/hold-only")
	require.NoError(t, waitFor(ctx, func() bool { cs, _ := m.Contenders(ctx); return len(cs) == 1 }))
	require.NoError(t, z.cmd.Process.Signal(syscall.SIGTERM))
	r := z.wait()
	assert.Equal(t, 143, r.code, r.stderr)
	assert.Empty(t, r.stderr)
	cs, err := m.Contenders(ctx)
	require.NoError(t, err)
	assert.Empty(t, cs, "zkr left its node")
}

// TestMaxHoldTerminatesTheCommand: with --max-hold, the command's group is
// terminated when the limit passes, and zkr exits 5: for a mutex, a write
// lock and a semaphore's lease alike.
func TestMaxHoldTerminatesTheCommand(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	for i, mode := range [][]string{nil, {"--write"}, {"-n", "2"}} {
		t0 := time.Now()
		args := append(append([]string{"lock"}, mode...), "--max-hold", "500ms", fmt.Sprintf("/zkr/max-hold-%d", i), "--", "sleep", "30")
		r := run(t, ctx, args...)
		assert.Equal(t, 5, r.code, "%v: %s", mode, r.stderr)
		assert.Contains(t, r.stderr, "max-hold", mode)
		assert.Less(t, time.Since(t0), 20*time.Second, "%v: the command ran its course", mode)
	}
}

// TestNextWaiterRunsOnlyOnceAMaxHoldCommandIsGone: a command terminated
// at its --max-hold that takes its whole grace to stop (it ignores
// SIGTERM) is still the only one running: the next zkr, waiting
// meanwhile, neither evicts the hold nor runs its command until the
// first command is gone.
func TestNextWaiterRunsOnlyOnceAMaxHoldCommandIsGone(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	const path = "/zkr/max-hold-grace"
	pidFile := filepath.Join(t.TempDir(), "pid")
	first := start(t, ctx, "lock", "--max-hold", "1s", "--grace", "3s", path, "--", "sh", "-c",
		fmt.Sprintf(`trap '' TERM; echo $$ > %s.tmp && mv %s.tmp %s; while :; do sleep 0.05; done`, pidFile, pidFile, pidFile))
	require.NoError(t, waitFor(ctx, func() bool { _, err := os.Stat(pidFile); return err == nil }), "the first command never ran")
	// The second command fails (9) if the first one still runs.
	r := run(t, ctx, "lock", "--timeout", "30s", path, "--", "sh", "-c", fmt.Sprintf(`kill -0 "$(cat %s)" 2>/dev/null && exit 9; exit 0`, pidFile))
	assert.Equal(t, 0, r.code, "the next command ran beside the first (9), or not at all: %s", r.stderr)
	f := first.wait()
	assert.Equal(t, 5, f.code, f.stderr)
	assert.Contains(t, f.stderr, "max-hold")
}

// TestStoppedZkrIsEvictedLongBeforeItsSessionExpires: a zkr holding with
// --max-hold and a long session timeout is stopped (SIGSTOP): its session
// lives on, and so would its lock. The next zkr evicts it after the max
// hold it declares (--max-hold, --grace and 5 s for SIGKILL) and the
// margin, long before the session timeout.
func TestStoppedZkrIsEvictedLongBeforeItsSessionExpires(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	const path = "/zkr/stopped"
	started := filepath.Join(t.TempDir(), "started")
	z := start(t, ctx, "lock", "--max-hold", "1s", "--grace", "1s", "--session-timeout", "40s", path, "--", "sh", "-c", "touch "+started+"; exec sleep 60")
	// Stopped once it holds (its command runs): its node alone would not
	// say so, and a zkr stopped before its grant never times its hold.
	require.NoError(t, waitFor(ctx, func() bool { _, err := os.Stat(started); return err == nil }))
	require.NoError(t, z.cmd.Process.Signal(syscall.SIGSTOP))
	defer z.cmd.Process.Signal(syscall.SIGCONT)

	t0 := time.Now()
	r := run(t, ctx, "lock", "--timeout", "15s", path, "--", "true")
	took := time.Since(t0)
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Less(t, took, 15*time.Second, "no faster than an expiry of the 40 s session")
	t.Logf("the next zkr held after %v", took)

	require.NoError(t, z.cmd.Process.Signal(syscall.SIGCONT))
	woken := z.wait()
	assert.Equal(t, 5, woken.code, "the woken zkr did not stop for its max hold: %s", woken.stderr)
}

// TestRevokeAsksAndForceDeletes: a zkr lock --revocable that is asked to
// let go terminates its command's group and exits 6, and zkr revoke
// --wait sees it go. One without --revocable keeps holding (revoke --wait
// exits 3), until revoke --force deletes its node: it then terminates its
// group for the lost hold (exit 4), and the next zkr holds.
func TestRevokeAsksAndForceDeletes(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	const path = "/zkr/revoke"
	b := newBackgroundChild(t)
	heeds := start(t, ctx, "lock", "--revocable", path, "--", "sh", "-c", b.script(false))
	pid := b.pid(t, ctx)
	r := run(t, ctx, "revoke", "--wait", "20s", path)
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "to let go")
	assert.Contains(t, r.stdout, " let go\n")
	w := heeds.wait()
	assert.Equal(t, 6, w.code, w.stderr)
	assert.Contains(t, w.stderr, "asked to let go")
	assert.False(t, alive(pid), "the command's background child outlived zkr")

	ignores := start(t, ctx, "lock", path, "--", "sleep", "60")
	observer := mutex(t, path)
	require.NoError(t, waitFor(ctx, func() bool { cs, _ := observer.Contenders(ctx); return len(cs) == 1 }))
	r = run(t, ctx, "revoke", "--wait", "1s", path)
	assert.Equal(t, 3, r.code, r.stderr)
	assert.Contains(t, r.stderr, "did not let go")
	r = run(t, ctx, "revoke", "--force", path)
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "deleted ")
	assert.Contains(t, r.stdout, "fencing")
	w = ignores.wait()
	assert.Equal(t, 4, w.code, w.stderr)
	assert.Equal(t, 0, run(t, ctx, "lock", "--try", path, "--", "true").code, "the lock did not pass on")
	r = run(t, ctx, "revoke", path)
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "no holder")
}

// TestAuthFromAFileOrAVariableAndUnreadableNodes: --auth reads digest
// credentials from a file (or, as ZK_AUTH=digest:env:NAME, from a
// variable), and zkr's nodes are then its own, readable by all: another
// identity cannot queue there, the same identity can. inspect shows a node
// it may not read as unreadable instead of failing.
func TestAuthFromAFileOrAVariableAndUnreadableNodes(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	const path = "/zkr-auth/x" // not under /zkr, which its ACL would close to the other tests
	creds := filepath.Join(t.TempDir(), "creds")
	require.NoError(t, os.WriteFile(creds, []byte("alice:secret\n"), 0o600))
	holder := start(t, ctx, "lock", "--auth", "digest:"+creds, path)
	observer := mutex(t, path)
	require.NoError(t, waitFor(ctx, func() bool { cs, _ := observer.Contenders(ctx); return len(cs) == 1 }))

	r := run(t, ctx, "lock", "--try", path, "--", "true") // no credentials
	assert.Equal(t, 1, r.code, r.stderr)
	assert.Contains(t, r.stderr, "not authenticated")
	cmd := exec.CommandContext(ctx, zkr, "lock", "--try", path, "--", "true")
	cmd.Env = append(os.Environ(), "ZK_SERVERS="+cluster.ConnectString(), "ZK_AUTH=digest:env:ALICE", "ALICE=alice:secret")
	err := cmd.Run()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, 3, ee.ExitCode(), "the same identity could not queue (3: held, as it is)")
	r = run(t, ctx, "inspect", path)
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "zkrecipes host=", "zkr's node is not readable by all")
	require.NoError(t, holder.cmd.Process.Signal(syscall.SIGTERM))
	holder.wait()

	// A node readable by its owner alone, in a path open to all.
	const open = "/zkr-acl-open"
	s, err := recipes.Connect(ctx, cluster.Servers(), recipes.WithAuth("digest", []byte("bob:pw")),
		recipes.WithACL(zk.DigestACL(zk.PermAll, "bob", "pw")...))
	require.NoError(t, err)
	defer s.Close()
	_, err = s.Conn().Create(open, nil, 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	defer s.Conn().Delete(open, -1)
	m, err := lock.New(s, open)
	require.NoError(t, err)
	h, err := m.Lock(ctx)
	require.NoError(t, err)
	defer h.Unlock(ctx)
	r = run(t, ctx, "inspect", open)
	assert.Equal(t, 0, r.code, r.stderr)
	assert.Contains(t, r.stdout, "(unreadable: its ACL)")
}

// TestTLSFlags: zkr over TLS with --tls-ca (and a client certificate with
// --tls-cert/--tls-key, or from ZK_TLS_* variables) locks and inspects on
// a server's secure port; without the authority it is refused in one line
// that says why.
func TestTLSFlags(t *testing.T) {
	c := zktest.Start(t, zktest.WithTLS())
	ctx := ctxFor(t, time.Minute)
	dir := t.TempDir()
	files := map[string][]byte{"ca.pem": c.TLS().CAPEM, "cert.pem": c.TLS().ClientCertPEM, "key.pem": c.TLS().ClientKeyPEM}
	for name, data := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), data, 0o600))
	}
	servers := strings.Join(c.SecureServers(), ",")
	zkrTLS := func(env []string, args ...string) result {
		cmd := exec.CommandContext(ctx, zkr, args...)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		cmd.Env = append(append(os.Environ(), "ZK_SERVERS="+servers), env...)
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		return result{code, out.String(), errOut.String()}
	}
	ca := filepath.Join(dir, "ca.pem")
	r := zkrTLS(nil, "lock", "--try", "--tls-ca", ca, "/zkr/tls", "--", "sh", "-c", "echo $ZKR_FENCING_TOKEN")
	assert.Equal(t, 0, r.code, r.stderr)
	assert.NotEmpty(t, strings.TrimSpace(r.stdout))
	r = zkrTLS([]string{"ZK_TLS_CA=" + ca, "ZK_TLS_CERT=" + filepath.Join(dir, "cert.pem"), "ZK_TLS_KEY=" + filepath.Join(dir, "key.pem")},
		"inspect", "/zkr")
	assert.Equal(t, 0, r.code, r.stderr)
	r = zkrTLS(nil, "inspect", "--tls-cert", filepath.Join(dir, "cert.pem"), "/zkr")
	assert.Equal(t, 2, r.code, "a certificate without its key and authority was taken")
	r = zkrTLS(nil, "lock", "--try", "--tls-ca", filepath.Join(dir, "cert.pem"), "/zkr/tls", "--", "true")
	assert.Equal(t, 1, r.code, "a client that does not know the servers' authority was let in")
	assert.Equal(t, 1, strings.Count(r.stderr, "\n"), r.stderr)
	assert.Contains(t, r.stderr, "certificate")
}

// TestPartitionRunsTheCommandWithItsShareAndRestartsItOnAChange: one zkr
// partition member runs its command with every item; a second joins, and
// each runs with its share by Kazoo's division; the second stops, and the
// first runs again with every item; a third joins and is killed
// (SIGKILL), and the first takes its share once its session expires.
func TestPartitionRunsTheCommandWithItsShareAndRestartsItOnAChange(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	dir := t.TempDir()
	const path, items = "/zkr/partition", "a,b,c,d,e"
	member := func(id string) started {
		script := fmt.Sprintf(`echo "$ZKR_ITEMS" >> %[1]s/%[2]s; echo $$ > %[1]s/%[2]s.pid; exec sleep 60`, dir, id)
		return start(t, ctx, "partition", "--items", items, "--id", id, "--stability", "300ms", "--grace", "1s", path, "--", "sh", "-c", script)
	}
	last := func(id string) string {
		data, _ := os.ReadFile(filepath.Join(dir, id))
		lines := strings.Fields(string(data))
		if len(lines) == 0 {
			return ""
		}
		return lines[len(lines)-1]
	}
	p1 := member("p1")
	require.NoError(t, waitFor(ctx, func() bool { return last("p1") == items }), "alone, p1 runs with every item")
	p2 := member("p2")
	require.NoError(t, waitFor(ctx, func() bool { return last("p1") == "a,c,e" && last("p2") == "b,d" }),
		"with two members: p1 %q, p2 %q", last("p1"), last("p2"))
	require.NoError(t, p2.cmd.Process.Signal(syscall.SIGTERM))
	assert.Equal(t, 143, p2.wait().code)
	require.NoError(t, waitFor(ctx, func() bool { return last("p1") == items }), "p1 never took every item back")

	// A member killed outright leaves with its session, once the server
	// expires it; meanwhile its locks keep its share from the others.
	p3 := member("p3")
	require.NoError(t, waitFor(ctx, func() bool { return last("p1") == "a,c,e" && last("p3") == "b,d" }),
		"with p3: p1 %q, p3 %q", last("p1"), last("p3"))
	require.NoError(t, p3.cmd.Process.Signal(syscall.SIGKILL))
	p3.wait()
	t.Cleanup(func() { // a zkr killed outright cannot stop its command: the test does
		data, _ := os.ReadFile(filepath.Join(dir, "p3.pid"))
		if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil {
			if cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && bytes.Contains(cmdline, []byte("sleep")) {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	killed := time.Now()
	require.NoError(t, waitFor(ctx, func() bool { return last("p1") == items }), "p1 never took p3's share")
	t.Logf("p1 had every item again %v after p3 was killed (its session expires in 10 s)", time.Since(killed))
	require.NoError(t, p1.cmd.Process.Signal(syscall.SIGINT))
	assert.Equal(t, 130, p1.wait().code)
}
