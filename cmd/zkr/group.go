package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"
)

// killWait bounds the wait for a process group to be gone after SIGKILL:
// only a process stuck in the kernel (uninterruptible sleep) outlives it.
const killWait = 5 * time.Second

// pollInterval is how often zkr looks whether CMD's process group is gone
// once CMD has exited: a member's leaving or ending sends zkr no signal
// unless it is zkr's child.
const pollInterval = 10 * time.Millisecond

// group is CMD running in a process group of its own, whose id is CMD's
// pid. zkr reaps every child it has, CMD and the orphans of CMD's
// descendants, which are reparented to zkr (a child subreaper on Linux):
// a zombie would keep the group from being gone.
type group struct {
	pid    int
	name   string
	status syscall.WaitStatus // CMD's; set before exited is closed
	exited chan struct{}      // closed when CMD itself has exited
	empty  chan struct{}      // closed when no process of the group is left
}

// startGroup starts cmd with env and zkr's standard files in a new process
// group.
func startGroup(cmd []string, env []string) (*group, error) {
	path, err := exec.LookPath(cmd[0])
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd[0], err)
	}
	becomeSubreaper()
	sigchld := make(chan os.Signal, 1)
	signal.Notify(sigchld, syscall.SIGCHLD)
	pid, err := syscall.ForkExec(path, cmd, &syscall.ProcAttr{
		Env:   env,
		Files: []uintptr{os.Stdin.Fd(), os.Stdout.Fd(), os.Stderr.Fd()},
		Sys:   &syscall.SysProcAttr{Setpgid: true},
	})
	if err != nil {
		signal.Stop(sigchld)
		return nil, fmt.Errorf("start %s: %w", cmd[0], err)
	}
	g := &group{pid: pid, name: cmd[0], exited: make(chan struct{}), empty: make(chan struct{})}
	go g.reap(sigchld)
	return g, nil
}

// reap reaps every child zkr has (CMD, and orphans reparented to zkr) as
// they exit, records CMD's status, and closes g.empty once CMD has exited
// and the group is gone. It waits on SIGCHLD, not in wait4: a blocked
// wait4 for the group's members is not woken when one leaves the group.
func (g *group) reap(sigchld chan os.Signal) {
	defer signal.Stop(sigchld)
	fallback := time.NewTicker(time.Second) // in case a SIGCHLD were missed
	defer fallback.Stop()
	for {
		for {
			var ws syscall.WaitStatus
			pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			if err != nil || pid <= 0 {
				break
			}
			if pid == g.pid {
				g.status = ws
				close(g.exited)
			}
		}
		var poll <-chan time.Time
		if g.done() {
			if g.gone() {
				close(g.empty)
				return
			}
			// Members left are children of members, or left zkr's
			// children: look again soon.
			poll = time.After(pollInterval)
		}
		select {
		case <-sigchld:
		case <-poll:
		case <-fallback.C:
		}
	}
}

// done reports whether CMD itself has exited.
func (g *group) done() bool {
	select {
	case <-g.exited:
		return true
	default:
		return false
	}
}

// gone reports whether no process of the group is left, zombies included.
func (g *group) gone() bool {
	return errors.Is(syscall.Kill(-g.pid, 0), syscall.ESRCH)
}

// signal sends sig to every process of the group.
func (g *group) signal(sig syscall.Signal) {
	syscall.Kill(-g.pid, sig)
}

// stop sends sig to the group (and SIGCONT, so that stopped members get
// it), then SIGKILL if any member is left after grace, and returns once
// the group is gone, or an error if it still is not killWait later.
func (g *group) stop(sig syscall.Signal, grace time.Duration) error {
	g.signal(sig)
	g.signal(syscall.SIGCONT)
	if g.await(grace) {
		return nil
	}
	g.signal(syscall.SIGKILL)
	if g.await(killWait) {
		return nil
	}
	return fmt.Errorf("process group %d of %s still has processes %v after SIGKILL", g.pid, g.name, killWait)
}

// await reports whether the group is gone within d.
func (g *group) await(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-g.empty:
		return true
	case <-t.C:
		return false
	}
}
