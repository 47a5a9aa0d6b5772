package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// killWait is how long after SIGKILL zkr first names CMD's processes still
// left (only one stuck in the kernel, in uninterruptible sleep, or one
// zkr may not signal outlives it), and gives up on them if the hold has
// ended by then; while the hold lasts, zkr keeps waiting. It is part of
// the max hold `zkr lock --max-hold` declares.
const killWait = 5 * time.Second

// group is CMD, started in a process group of its own whose id is CMD's
// pid, and every process it starts. zkr reaps every child it has, CMD and
// the orphans of CMD's descendants, which are reparented to zkr (a child
// subreaper on Linux). Which processes zkr waits for and signals is up to
// remaining: on Linux, every descendant of zkr; elsewhere, CMD's process
// group.
type group struct {
	pid    int
	name   string
	stderr io.Writer          // for what zkr says of them
	status syscall.WaitStatus // CMD's; set before exited is closed
	exited chan struct{}      // closed when CMD itself has exited
	empty  chan struct{}      // closed when CMD has exited and nothing remains
	wake   chan struct{}      // a value when zkr reaped or was told to look again
}

// startGroup starts cmd with env and zkr's standard files in a new process
// group; zkr says on stderr what it notices of its processes.
// commandEnv is zkr's environment for CMD with vars ("KEY=value") set:
// an entry of the same key that zkr inherited (from an outer zkr, as in
// zkr lock /a -- zkr lock /b -- CMD) is dropped, not kept beside the new
// one, since most programs read the first of two.
func commandEnv(vars ...string) []string {
	set := make(map[string]bool, len(vars))
	for _, v := range vars {
		k, _, _ := strings.Cut(v, "=")
		set[k] = true
	}
	env := slices.DeleteFunc(os.Environ(), func(e string) bool {
		k, _, _ := strings.Cut(e, "=")
		return set[k]
	})
	return append(env, vars...)
}

func startGroup(cmd []string, env []string, stderr io.Writer) (*group, error) {
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
	g := &group{pid: pid, name: cmd[0], stderr: stderr, exited: make(chan struct{}), empty: make(chan struct{}), wake: make(chan struct{}, 1)}
	go g.reap(sigchld)
	return g, nil
}

// reap reaps every child zkr has (CMD, and orphans reparented to zkr) as
// they exit, records CMD's status, and closes g.empty once CMD has exited
// and nothing remains. It waits on SIGCHLD, not in wait4: a blocked wait4
// for the group's members is not woken when one leaves the group.
func (g *group) reap(sigchld chan os.Signal) {
	defer signal.Stop(sigchld)
	fallback := time.NewTicker(time.Second) // in case a SIGCHLD were missed
	defer fallback.Stop()
	for {
		g.reapChildren()
		var poll <-chan time.Time
		if isClosed(g.exited) { // CMD itself has exited
			if len(g.remaining()) == 0 {
				g.reapChildren() // those that died since, which remaining leaves out
				close(g.empty)
				return
			}
			if pollInterval > 0 {
				poll = time.After(pollInterval)
			}
		}
		select {
		case g.wake <- struct{}{}:
		default:
		}
		select {
		case <-sigchld:
		case <-poll:
		case <-fallback.C:
		}
	}
}

// reapChildren reaps every child of zkr that has exited, records CMD's
// status, and says which children were stopped.
func (g *group) reapChildren() {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG|syscall.WUNTRACED, nil)
		switch {
		case errors.Is(err, syscall.EINTR):
		case err != nil || pid <= 0:
			return
		case ws.Stopped():
			g.sayStopped(pid, ws.StopSignal())
		case pid == g.pid:
			g.status = ws
			close(g.exited)
		}
	}
}

// sayStopped says that a child of zkr (CMD, or an orphan of its) was
// stopped by sig, and that zkr holds on. A process that uses the terminal
// is stopped (SIGTTIN, SIGTTOU) with its whole process group: CMD's is
// not the terminal's foreground group, so a read by CMD or any process of
// its group stops CMD itself, and zkr hears of it.
func (g *group) sayStopped(pid int, sig syscall.Signal) {
	who := fmt.Sprintf("%s (pid %d)", g.name, pid)
	if pid != g.pid {
		who = fmt.Sprintf("process %d of %s", pid, g.name)
	}
	why := fmt.Sprintf("is stopped (%v)", sig)
	switch sig {
	case syscall.SIGTTIN:
		why = "is stopped by SIGTTIN: it read the terminal, which it may not (it is not in the foreground)"
	case syscall.SIGTTOU:
		why = "is stopped by SIGTTOU: it wrote to the terminal or changed its modes, which it may not (it is not in the foreground)"
	}
	fmt.Fprintf(g.stderr, "zkr: %s %s; zkr holds until it ends (Ctrl-C ends it)\n", who, why)
}

// groupRemaining is remaining where zkr cannot know its descendants:
// CMD's process group (as kill(2) names it, minus its id) while any
// process of it is left, zombies included.
func (g *group) groupRemaining() []int {
	if errors.Is(syscall.Kill(-g.pid, 0), syscall.ESRCH) {
		return nil
	}
	return []int{-g.pid}
}

// signalGroup is signal where zkr follows CMD's process group (see
// groupRemaining).
func (g *group) signalGroup(sig syscall.Signal) []int {
	pids := g.groupRemaining()
	for _, pid := range pids {
		syscall.Kill(pid, sig)
	}
	return pids
}

// stuckNote is how often zkr says which processes it still waits for
// after SIGKILL.
const stuckNote = 30 * time.Second

// stop sends sig to every process that remains (and SIGCONT, so that
// stopped ones get it), then SIGKILL if any is left after grace, again
// each time zkr reaps one or looks again (a process may fork between the
// look and the kill), and returns nil once none is left. Processes still
// left killWait after SIGKILL (zkr may not signal them, or they are stuck
// in the kernel) keep it waiting and killing while held is open, saying
// so on g.stderr now and then: the hold they run under is still zkr's. Once
// held is closed (at once, if it already is), stop returns an error that
// names them.
func (g *group) stop(sig syscall.Signal, grace time.Duration, held <-chan struct{}) error {
	g.signal(sig)
	g.signal(syscall.SIGCONT)
	if g.await(grace) {
		return nil
	}
	killed := time.Now()
	note := time.NewTimer(killWait)
	defer note.Stop()
	var lost <-chan struct{} // held, once killWait has passed
	for {
		left := g.signal(syscall.SIGKILL)
		select {
		case <-g.empty:
			return nil
		case <-g.wake:
			continue
		case <-note.C:
			if !isClosed(held) {
				fmt.Fprintf(g.stderr, "zkr: %s of %s still left %v after SIGKILL: holding on until they are gone\n",
					pidList(left), g.name, time.Since(killed).Round(time.Second))
				lost = held
				note.Reset(stuckNote)
				continue
			}
		case <-lost:
		}
		return fmt.Errorf("%s of %s still left %v after SIGKILL", pidList(left), g.name, time.Since(killed).Round(time.Second))
	}
}

// isClosed reports whether ch is closed.
func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// await reports whether nothing remains within d.
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

// pidList names what remaining returned: "processes 12 34", or "process
// group 12".
func pidList(pids []int) string {
	var names []string
	for _, pid := range pids {
		if pid < 0 {
			return "process group " + strconv.Itoa(-pid)
		}
		names = append(names, strconv.Itoa(pid))
	}
	return "processes " + strings.Join(names, " ")
}
