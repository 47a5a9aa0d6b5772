package main_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestProcessesSigkillCannotEndKeepTheHold: a zkr that may not signal a
// process of its command's (zkr runs as nobody, the command as another
// user) keeps holding once interrupted, says which process it waits for,
// and releases only once that process is gone; one whose hold is lost
// meanwhile exits 4 without waiting longer.
func TestProcessesSigkillCannotEndKeepTheHold(t *testing.T) {
	require.Zero(t, os.Geteuid(), "this test runs zkr and its command as other users: run it as root (as make test and CI do)")
	ctx := ctxFor(t, 2*time.Minute)
	const path = "/zkr/unkillable"
	dir, err := os.MkdirTemp("", "zkr-unkillable-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o777))
	require.NoError(t, os.Chmod(filepath.Dir(zkr), 0o755)) // for nobody to run zkr
	goAhead := filepath.Join(dir, "go")
	// zkr as nobody, allowed to start its command as user 4242 (setpriv),
	// but not to signal it: CAP_SETGID and CAP_SETUID, not CAP_KILL.
	const capSetgid, capSetuid = 6, 7 // <linux/capability.h>
	nobody := func(cmd *exec.Cmd) {
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Credential:  &syscall.Credential{Uid: 65534, Gid: 65534},
			AmbientCaps: []uintptr{capSetgid, capSetuid},
		}
	}
	holdAs4242 := func(name string) (started, int) {
		pidFile := filepath.Join(dir, name)
		z := startWith(t, ctx, nobody, "lock", "--grace", "1s", path, "--",
			"setpriv", "--reuid=4242", "--regid=4242", "--clear-groups", "sh", "-c",
			fmt.Sprintf(`echo $$ > %[1]s.tmp && mv %[1]s.tmp %[1]s; while [ ! -e %[2]s ]; do sleep 0.05; done`, pidFile, goAhead))
		pid := pidIn(t, ctx, pidFile, goAhead)
		require.NoError(t, z.cmd.Process.Signal(syscall.SIGTERM))
		var r result
		exited := false
		require.NoError(t, waitFor(ctx, func() bool {
			select {
			case r = <-z.done:
				exited = true
				return true
			default:
			}
			out, _ := os.ReadFile(z.stderrFile)
			return strings.Contains(string(out), "holding on until they are gone")
		}))
		require.False(t, exited, "zkr exited (%d) while a process of its command ran: %s", r.code, r.stderr)
		out, _ := os.ReadFile(z.stderrFile)
		assert.Regexp(t, fmt.Sprintf(`processes (\d+ )*%d( \d+)* of setpriv still left`, pid), string(out))
		return z, pid
	}
	observer := mutex(t, path)

	z, pid := holdAs4242("first")
	cs, err := observer.Contenders(ctx)
	require.NoError(t, err)
	assert.Len(t, cs, 1, "zkr released while a process of its command ran")
	require.NoError(t, os.WriteFile(goAhead, nil, 0o644))
	r := z.wait()
	assert.Equal(t, 143, r.code, r.stderr)
	assert.False(t, alive(pid), "zkr exited before the process it waited for")
	cs, err = observer.Contenders(ctx)
	require.NoError(t, err)
	assert.Empty(t, cs, "zkr left its node")

	require.NoError(t, os.Remove(goAhead))
	z, pid = holdAs4242("second")
	cs, err = observer.Contenders(ctx)
	require.NoError(t, err)
	require.Len(t, cs, 1)
	require.NoError(t, cluster.ExpireSession(ctx, cs[0].Session))
	r = z.wait()
	assert.Equal(t, 4, r.code, r.stderr)
	assert.Regexp(t, fmt.Sprintf(`processes (\d+ )*%d( \d+)* of setpriv still left .* when the hold ended`, pid), r.stderr)
	assert.True(t, alive(pid), "the process zkr could not kill is gone: the test proves nothing")
	require.NoError(t, os.WriteFile(goAhead, nil, 0o644))
}
