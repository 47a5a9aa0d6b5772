package main

import (
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestKillSignalsOnlyTheProcessFound: zkr signals the processes its scan
// of /proc found descending from it, but one may exit and its pid go to
// another process before the signal. kill signals a pid only if the
// process there started when the one found did: a process with another
// start time (standing for a stranger that took the pid over) is not
// signalled. And kill does not ask again whether a process found
// descends from zkr (the scan decided; an earlier version walked the
// parents again, and took a process whose parent had just exited for a
// stranger): an orphan init took over is signalled.
func TestKillSignalsOnlyTheProcessFound(t *testing.T) {
	child := exec.Command("sleep", "60")
	require.NoError(t, child.Start())
	t.Cleanup(func() { child.Process.Kill() })
	p, err := readStat(strconv.Itoa(child.Process.Pid))
	require.NoError(t, err)
	require.NotZero(t, p.start)

	// Another start time: not the process found. SIGKILL, had kill sent
	// it, would be pending before the SIGTERM sent next, and the child
	// would die of it.
	kill(p.pid, p.start+1, syscall.SIGKILL)
	require.NoError(t, syscall.Kill(p.pid, syscall.SIGTERM))
	assert.Equal(t, syscall.SIGTERM, endingSignal(t, child), "kill signalled a process it did not find")

	// An orphan, taken over by init: still the process found.
	out, err := exec.Command("sh", "-c", "sleep 60 >/dev/null 2>&1 & echo $!").Output()
	require.NoError(t, err)
	orphan, err := strconv.Atoi(strings.TrimSpace(string(out)))
	require.NoError(t, err)
	t.Cleanup(func() { syscall.Kill(orphan, syscall.SIGKILL) })
	fd, err := unix.PidfdOpen(orphan, 0)
	require.NoError(t, err)
	defer unix.Close(fd)
	o, err := readStat(strconv.Itoa(orphan))
	require.NoError(t, err)
	kill(orphan, o.start, syscall.SIGKILL)
	// Its pidfd reads as ready once it has exited.
	n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, int(time.Minute/time.Millisecond))
	require.NoError(t, err)
	assert.Equal(t, 1, n, "the orphan was not killed")
}

// endingSignal waits for cmd and returns the signal that ended it.
func endingSignal(t *testing.T, cmd *exec.Cmd) syscall.Signal {
	t.Helper()
	var exit *exec.ExitError
	require.ErrorAs(t, cmd.Wait(), &exit)
	return exit.Sys().(syscall.WaitStatus).Signal()
}

// TestKillSignalsWithoutAPidfd: where no pidfd can be had (before Linux
// 5.3; out of file descriptors; under a seccomp filter that refuses
// pidfd_open), kill checks the process is the one found and signals its
// pid. Before, it sent nothing unless the kernel lacked pidfd_open, and
// zkr waited on for the process to end.
func TestKillSignalsWithoutAPidfd(t *testing.T) {
	for _, refusal := range []error{unix.ENOSYS, unix.EMFILE, unix.EPERM} {
		t.Run(refusal.Error(), func(t *testing.T) {
			defer func(open func(int, int) (int, error)) { pidfdOpen = open }(pidfdOpen)
			pidfdOpen = func(int, int) (int, error) { return -1, refusal }
			child := exec.Command("sleep", "60")
			require.NoError(t, child.Start())
			t.Cleanup(func() { child.Process.Kill() })
			p, err := readStat(strconv.Itoa(child.Process.Pid))
			require.NoError(t, err)

			kill(p.pid, p.start+1, syscall.SIGKILL) // not the process found
			kill(p.pid, p.start, syscall.SIGTERM)
			assert.Equal(t, syscall.SIGTERM, endingSignal(t, child))
		})
	}
}
