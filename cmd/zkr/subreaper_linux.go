package main

import (
	"errors"
	"os"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// prSetChildSubreaper is PR_SET_CHILD_SUBREAPER from <linux/prctl.h>.
const prSetChildSubreaper = 36

// becomeSubreaper makes the orphans of zkr's descendants zkr's children
// rather than init's: every process CMD starts stays a descendant of zkr,
// whatever process group or session it moves to (setsid, set -m, a nested
// zkr, a daemon's double fork), and zkr reaps the orphans, even where init
// does not (some containers).
func becomeSubreaper() {
	syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0)
}

// pollInterval is 0: with zkr a subreaper, the last descendant to exit is
// always a child of zkr, whose exit sends zkr SIGCHLD.
const pollInterval = time.Duration(0)

// remaining returns the processes zkr waits for and signals: every live
// (non-zombie) descendant of zkr, found by following parents in /proc.
// Processes handed to something outside zkr's tree (systemd-run, at)
// are not descendants and are not followed.
func (g *group) remaining() []int {
	dir, err := os.ReadDir("/proc")
	if err != nil {
		return g.groupRemaining() // no /proc: follow CMD's process group
	}
	procs := make([]proc, 0, len(dir))
	for _, e := range dir {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		line, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // gone since the listing
		}
		if p, err := parseStat(line); err == nil {
			procs = append(procs, p)
		}
	}
	live := liveDescendants(os.Getpid(), procs)
	if len(live) == 0 {
		// /proc may hide other users' processes (mounted hidepid=1 or 2):
		// a setuid one left in CMD's group still shows to kill(2).
		return g.groupRemaining()
	}
	return live
}

// kill sends sig to pid, a process remaining found, or, for -pgid, a
// process group. A process it found may have exited since and been
// reaped, and its pid taken by another process, anyone's: kill signals it
// only through a pidfd that pinDescendant opened, which reaches nothing if
// the process it pinned has exited meanwhile. Where the kernel has no
// pidfds (before Linux 5.3), it signals the pid.
func kill(pid int, sig syscall.Signal) {
	if pid < 0 {
		syscall.Kill(pid, sig)
		return
	}
	fd, err := pinDescendant(pid)
	switch {
	case errors.Is(err, unix.ENOSYS):
		syscall.Kill(pid, sig)
	case err == nil:
		defer unix.Close(fd)
		unix.PidfdSendSignal(fd, sig, nil, 0)
	}
}

// errNotDescendant: the process is not zkr's descendant.
var errNotDescendant = errors.New("not a descendant of zkr")

// pinDescendant opens a pidfd on the process pid, and returns it if that
// process, pinned, descends from zkr (following its parents through
// /proc).
func pinDescendant(pid int) (int, error) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return -1, err
	}
	if !descends(pid, os.Getpid()) {
		unix.Close(fd)
		return -1, errNotDescendant
	}
	return fd, nil
}

// descends reports whether pid is a descendant of root.
func descends(pid, root int) bool {
	seen := map[int]bool{} // pids reused as it reads may make a cycle
	for !seen[pid] {
		seen[pid] = true
		line, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return false
		}
		p, err := parseStat(line)
		if err != nil || p.ppid == 0 {
			return false
		}
		if p.ppid == root {
			return true
		}
		pid = p.ppid
	}
	return false
}
