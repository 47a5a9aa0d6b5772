package main

import (
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestKillSignalsOnlyDescendants: zkr signals the processes its scan of
// /proc found descending from it, but one may exit and its pid go to
// another process before the signal. kill signals a process only once it
// has pinned it and seen that it descends from zkr: one that does not
// (here an orphan of this test's, which init took over, standing for a
// stranger with a reused pid) is not signalled, and a child is.
func TestKillSignalsOnlyDescendants(t *testing.T) {
	out, err := exec.Command("sh", "-c", "sleep 60 >/dev/null 2>&1 & echo $!").Output()
	require.NoError(t, err)
	stranger, err := strconv.Atoi(strings.TrimSpace(string(out)))
	require.NoError(t, err)
	t.Cleanup(func() { syscall.Kill(stranger, syscall.SIGKILL) })
	_, err = pinDescendant(stranger)
	require.ErrorIs(t, err, errNotDescendant, "kill would signal a process that does not descend from zkr")
	_, err = pinDescendant(1 << 22) // above any pid_max: no such process
	require.ErrorIs(t, err, unix.ESRCH)

	child := exec.Command("sleep", "60")
	require.NoError(t, child.Start())
	fd, err := pinDescendant(child.Process.Pid)
	require.NoError(t, err)
	unix.Close(fd)
	kill(child.Process.Pid, syscall.SIGKILL)
	err = child.Wait()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	assert.Equal(t, syscall.SIGKILL, exit.Sys().(syscall.WaitStatus).Signal())
}
