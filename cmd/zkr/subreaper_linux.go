package main

import (
	"os"
	"strconv"
	"syscall"
	"time"
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
