package main

import (
	"errors"
	"io/fs"
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
	live, _, ok := descendants()
	if !ok {
		return g.groupRemaining()
	}
	return live
}

// signal sends sig to every process that remains, and returns
// them. A process the scan found may exit before the signal, and its pid
// go to another process, anyone's: see kill.
func (g *group) signal(sig syscall.Signal) []int {
	live, starts, ok := descendants()
	if !ok {
		return g.signalGroup(sig)
	}
	for _, pid := range live {
		kill(pid, starts[pid], sig)
	}
	return live
}

// descendants scans /proc for zkr's live descendants, and returns their
// pids and each one's start time. ok is false where /proc cannot be read,
// or shows none: it may hide other users' processes (mounted hidepid=1 or
// 2), and a setuid one left in CMD's group still shows to kill(2), so zkr
// follows CMD's process group then.
func descendants() (live []int, starts map[int]uint64, ok bool) {
	dir, err := os.ReadDir("/proc")
	if err != nil {
		return nil, nil, false
	}
	procs := make([]proc, 0, len(dir))
	starts = make(map[int]uint64, len(dir))
	for _, e := range dir {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		if p, err := readStat(e.Name()); err == nil {
			procs = append(procs, p)
			starts[p.pid] = p.start
		}
	}
	live = liveDescendants(os.Getpid(), procs)
	return live, starts, len(live) > 0
}

// readStat reads /proc/PID/stat.
func readStat(pid string) (proc, error) {
	line, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return proc{}, err // gone since the listing
	}
	return parseStat(line)
}

// kill sends sig to the process pid that a scan found started at start
// (in clock ticks after boot), unless it is gone: its pid may be another
// process's by now. It pins the process with a pidfd, checks that the
// pinned process started when the one found did, and signals it through
// the pidfd, which reaches nothing if it has exited meanwhile. Where there
// is no pidfd (before Linux 5.3, out of file descriptors, a seccomp
// filter that refuses it), it checks the same and signals the pid.
func kill(pid int, start uint64, sig syscall.Signal) {
	fd, err := pidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return // gone
	}
	if err == nil {
		defer unix.Close(fd)
	}
	if !sameProcess(pid, start) {
		return
	}
	if err == nil {
		unix.PidfdSendSignal(fd, sig, nil, 0) // ESRCH: it has exited since; EPERM: kill(2) would fail too
		return
	}
	syscall.Kill(pid, sig)
}

// pidfdOpen is pidfd_open(2); tests make it fail as a kernel without it,
// or a process out of file descriptors, would.
var pidfdOpen = unix.PidfdOpen

// sameProcess reports whether pid is a live process that started at start
// (0: unknown, when any live process will do), or may be: where its stat
// cannot be read for a reason other than its being gone (zkr is out of
// file descriptors), a process that cannot be checked is signalled as
// before, rather than left running.
func sameProcess(pid int, start uint64) bool {
	p, err := readStat(strconv.Itoa(pid))
	switch {
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ESRCH):
		return false
	case err != nil:
		return true
	}
	return !p.dead() && (start == 0 || p.start == start)
}
