package main

import (
	"bytes"
	"fmt"
	"strconv"
)

// proc is a process as /proc/PID/stat shows it.
type proc struct {
	pid, ppid int
	state     byte // R, S, D, T, Z...
}

// parseStat parses the start of a /proc/PID/stat line: "PID (COMM) STATE
// PPID ...". COMM may hold spaces and parentheses: it ends at the last ')'.
func parseStat(line []byte) (proc, error) {
	open, end := bytes.IndexByte(line, '('), bytes.LastIndexByte(line, ')')
	if open < 1 || end < open {
		return proc{}, fmt.Errorf("stat %q: no (COMM)", line)
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(line[:open])))
	if err != nil {
		return proc{}, fmt.Errorf("stat %q: pid: %w", line, err)
	}
	rest := bytes.Fields(line[end+1:])
	if len(rest) < 2 || len(rest[0]) != 1 {
		return proc{}, fmt.Errorf("stat %q: no state and ppid", line)
	}
	ppid, err := strconv.Atoi(string(rest[1]))
	if err != nil {
		return proc{}, fmt.Errorf("stat %q: ppid: %w", line, err)
	}
	return proc{pid, ppid, rest[0][0]}, nil
}

// liveDescendants returns the pids of the processes in procs that descend
// from root (through their parents) and are not dead (zombies, or 'X'),
// in the order of procs.
func liveDescendants(root int, procs []proc) []int {
	parent := make(map[int]int, len(procs))
	for _, p := range procs {
		parent[p.pid] = p.ppid
	}
	descends := map[int]bool{root: true}
	var under func(pid int) bool
	under = func(pid int) bool {
		d, seen := descends[pid]
		if seen {
			return d
		}
		descends[pid] = false // meanwhile: a cycle (pids reused mid-scan) descends from nothing
		ppid, ok := parent[pid]
		d = ok && under(ppid)
		descends[pid] = d
		return d
	}
	var out []int
	for _, p := range procs {
		if p.pid != root && p.state != 'Z' && p.state != 'X' && p.state != 'x' && under(p.pid) {
			out = append(out, p.pid)
		}
	}
	return out
}
