package main

import (
	"bytes"
	"fmt"
	"strconv"
)

// proc is a process as /proc/PID/stat shows it.
type proc struct {
	pid, ppid int
	state     byte   // R, S, D, T, Z...
	start     uint64 // clock ticks after boot; 0 if the line stops short of it
}

// dead reports whether the process has exited: a zombie, or 'X' (or 'x',
// as older kernels wrote it).
func (p proc) dead() bool { return p.state == 'Z' || p.state == 'X' || p.state == 'x' }

// parseStat parses a /proc/PID/stat line: "PID (COMM) STATE PPID ...",
// and the start time, its 22nd field. COMM may hold spaces and
// parentheses: it ends at the last ')'.
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
	p := proc{pid: pid, ppid: ppid, state: rest[0][0]}
	if len(rest) > startField {
		if p.start, err = strconv.ParseUint(string(rest[startField]), 10, 64); err != nil {
			return proc{}, fmt.Errorf("stat %q: start time: %w", line, err)
		}
	}
	return p, nil
}

// startField is the start time's index among the fields after COMM
// (field 22 of proc(5), counting from 1: PID, COMM, then these from 3).
const startField = 22 - 3

// liveDescendants returns the pids of the processes in procs that descend
// from root (through their parents) and are not dead, in the order of
// procs.
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
		if p.pid != root && !p.dead() && under(p.pid) {
			out = append(out, p.pid)
		}
	}
	return out
}
