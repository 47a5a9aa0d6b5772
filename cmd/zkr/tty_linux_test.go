package main_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCommandStoppedByTheTerminalIsReported: a command that reads zkr's
// terminal, where it is not in the foreground, is stopped (SIGTTIN); zkr
// says so and holds on, until interrupted.
func TestCommandStoppedByTheTerminalIsReported(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	const path = "/zkr/ttin"
	terminal := openPty(t)
	z := startWith(t, ctx, func(cmd *exec.Cmd) {
		cmd.Stdin = terminal // and zkr's controlling terminal, in a session of its own
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	}, "lock", path, "--", "sh", "-c", "read line")
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	require.NoError(t, waitFor(wctx, func() bool {
		out, _ := os.ReadFile(z.stderrFile)
		return strings.Contains(string(out), "stopped by SIGTTIN")
	}), "zkr did not say its command was stopped")
	cs, err := mutex(t, path).Contenders(ctx)
	require.NoError(t, err)
	assert.Len(t, cs, 1, "zkr let go")
	require.NoError(t, z.cmd.Process.Signal(syscall.SIGINT))
	r := z.wait()
	assert.Equal(t, 130, r.code, r.stderr)
}

// openPty returns the terminal end of a new pseudo-terminal, whose other
// end stays open until the test ends.
func openPty(t *testing.T) *os.File {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	require.NoError(t, err)
	t.Cleanup(func() { master.Close() })
	var unlock int32
	var n uint32
	for _, req := range []struct {
		op  uintptr
		arg unsafe.Pointer
	}{{syscall.TIOCSPTLCK, unsafe.Pointer(&unlock)}, {syscall.TIOCGPTN, unsafe.Pointer(&n)}} {
		if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, master.Fd(), req.op, uintptr(req.arg)); e != 0 {
			require.NoError(t, e)
		}
	}
	tty, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	require.NoError(t, err)
	t.Cleanup(func() { tty.Close() })
	return tty
}
