package main

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// waitFor is the wait-for graph of sessions: who holds which paths, and
// who waits for whom at which path.
type waitFor struct {
	holds map[int64][]string                  // session: paths where it holds
	waits map[int64][]string                  // session: paths where it waits
	edges map[int64]map[int64]map[string]bool // waiter: blocker: paths
}

// graph builds the wait-for graph from a survey. A waiter waits for every
// contender ahead that blocks it under the shared rule (an exclusive node
// blocks all, a shared one blocks exclusive ones), holding or queued: one
// queued ahead waits in turn, so the graph's paths follow the queue. A
// semaphore's acquirer that holds its mutex waits for every lease; the
// acquirers behind it wait for those ahead. A session waiting where it
// also holds is two goroutines of one process, not a cycle.
func graph(paths []recipePath) waitFor {
	g := waitFor{holds: map[int64][]string{}, waits: map[int64][]string{}, edges: map[int64]map[int64]map[string]bool{}}
	edge := func(from, to int64, p string) {
		if from == to {
			return
		}
		if g.edges[from] == nil {
			g.edges[from] = map[int64]map[string]bool{}
		}
		if g.edges[from][to] == nil {
			g.edges[from][to] = map[string]bool{}
		}
		g.edges[from][to][p] = true
	}
	note := func(m map[int64][]string, s int64, p string) {
		if !slices.Contains(m[s], p) {
			m[s] = append(m[s], p)
		}
	}
	for _, rp := range paths {
		if rp.semaphore {
			for _, l := range rp.nodes {
				note(g.holds, l.Session, rp.path)
			}
			for i, a := range rp.acquirers {
				note(g.waits, a.Session, rp.path)
				if i == 0 {
					for _, l := range rp.nodes {
						edge(a.Session, l.Session, rp.path)
					}
				}
				for _, b := range rp.acquirers[:i] {
					edge(a.Session, b.Session, rp.path)
				}
			}
			continue
		}
		for i, c := range rp.nodes {
			if c.Held {
				note(g.holds, c.Session, rp.path)
				continue
			}
			note(g.waits, c.Session, rp.path)
			for _, b := range rp.nodes[:i] {
				if !b.Shared || !c.Shared {
					edge(c.Session, b.Session, rp.path)
				}
			}
		}
	}
	return g
}

// cycles returns the graph's cycles between sessions: one for each set of
// sessions that wait for each other (a strongly connected component of
// more than one), as the sessions in wait order.
func (g waitFor) cycles() [][]int64 {
	var nodes []int64
	for s := range g.edges {
		nodes = append(nodes, s)
	}
	slices.Sort(nodes)
	// Tarjan's algorithm.
	index, low, onStack := map[int64]int{}, map[int64]int{}, map[int64]bool{}
	var stack []int64
	var out [][]int64
	var visit func(v int64)
	visit = func(v int64) {
		index[v], low[v] = len(index), len(index)
		stack = append(stack, v)
		onStack[v] = true
		for _, w := range sortedKeys(g.edges[v]) {
			if _, seen := index[w]; !seen {
				visit(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] != index[v] {
			return
		}
		var scc []int64
		for {
			w := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			onStack[w] = false
			scc = append(scc, w)
			if w == v {
				break
			}
		}
		if len(scc) > 1 {
			out = append(out, g.cycleIn(scc))
		}
	}
	for _, v := range nodes {
		if _, seen := index[v]; !seen {
			visit(v)
		}
	}
	slices.SortFunc(out, func(a, b []int64) int { return cmp.Compare(a[0], b[0]) })
	return out
}

// cycleIn returns a cycle through the component's smallest session, found
// by a walk that stays in the component.
func (g waitFor) cycleIn(scc []int64) []int64 {
	in := map[int64]bool{}
	for _, s := range scc {
		in[s] = true
	}
	start := slices.Min(scc)
	prev := map[int64]int64{start: start}
	queue := []int64{start}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		for _, w := range sortedKeys(g.edges[v]) {
			if w == start {
				cycle := []int64{v}
				for v != start {
					v = prev[v]
					cycle = append(cycle, v)
				}
				slices.Reverse(cycle)
				return cycle
			}
			if _, seen := prev[w]; !seen && in[w] {
				prev[w] = v
				queue = append(queue, w)
			}
		}
	}
	return scc // unreachable: a component of more than one has a cycle
}

func sortedKeys[V any](m map[int64]V) []int64 {
	keys := make([]int64, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// cycleStep is one session of a cycle: what it holds and what it waits
// for, from the next session in the cycle.
type cycleStep struct {
	Session  string   `json:"session"`
	Holds    []string `json:"holds"`
	WaitsFor []string `json:"waits_for"` // paths where it waits for the next session
	Next     string   `json:"next"`
}

type oldHold struct {
	Path    string        `json:"path"`
	Node    string        `json:"node"`
	Session string        `json:"session"`
	Client  string        `json:"client"`
	Age     time.Duration `json:"age_ns"`
}

type deadlockReport struct {
	Prefix string        `json:"prefix"`
	Paths  int           `json:"paths"`
	Cycles [][]cycleStep `json:"cycles"`
	Old    []oldHold     `json:"old_holds"`
}

func deadlocksCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("zkr deadlocks", flag.ContinueOnError)
	servers := connFlags(fs)
	olderThan := fs.Duration("older-than", 0, "also list holds older than this (and exit 3 if there are any)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args, stdout, deadlocksHelp); err != nil {
		return err
	}
	prefix, err := onePath("deadlocks", fs)
	if err != nil {
		return err
	}
	if *olderThan < 0 {
		return usageError("deadlocks: --older-than must not be negative")
	}
	s, err := connect(ctx, servers, 10*time.Second)
	if err != nil {
		return err
	}
	defer s.Close()
	paths, err := survey(ctx, s, prefix)
	if err != nil {
		return err
	}
	r := findDeadlocks(prefix, paths, *olderThan, time.Now())
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			return err
		}
	} else {
		printDeadlocks(stdout, r, *olderThan)
	}
	if len(r.Cycles) > 0 || len(r.Old) > 0 {
		return exitErr{exitBusy, errQuiet}
	}
	return nil
}

// findDeadlocks finds the cycles among paths, and the holds older than olderThan
// (none if 0) at now.
func findDeadlocks(prefix string, paths []recipePath, olderThan time.Duration, now time.Time) deadlockReport {
	g := graph(paths)
	r := deadlockReport{Prefix: prefix, Paths: len(paths), Cycles: [][]cycleStep{}, Old: []oldHold{}}
	hex := func(s int64) string { return fmt.Sprintf("0x%x", s) }
	for _, c := range g.cycles() {
		var steps []cycleStep
		for i, s := range c {
			next := c[(i+1)%len(c)]
			var via []string
			for p := range g.edges[s][next] {
				via = append(via, p)
			}
			slices.Sort(via)
			steps = append(steps, cycleStep{Session: hex(s), Holds: g.holds[s], WaitsFor: via, Next: hex(next)})
		}
		r.Cycles = append(r.Cycles, steps)
	}
	if olderThan > 0 {
		for _, rp := range paths {
			for _, c := range rp.nodes {
				if age := now.Sub(c.Created); c.Held && age > olderThan {
					r.Old = append(r.Old, oldHold{rp.path, c.Name, hex(c.Session), clientOf(c), age})
				}
			}
		}
		slices.SortFunc(r.Old, func(a, b oldHold) int { return cmp.Compare(b.Age, a.Age) })
	}
	return r
}

func printDeadlocks(w io.Writer, r deadlockReport, olderThan time.Duration) {
	if len(r.Cycles) == 0 {
		fmt.Fprintf(w, "%s: no cycle among %d recipe paths\n", r.Prefix, r.Paths)
	}
	for _, c := range r.Cycles {
		fmt.Fprintf(w, "possible deadlock: %d sessions wait for each other (goroutines of one process share its session, so a cycle between sessions is between processes)\n", len(c))
		for _, st := range c {
			holds := "nothing under the prefix"
			if len(st.Holds) > 0 {
				holds = strings.Join(st.Holds, ", ")
			}
			fmt.Fprintf(w, "  session %s holds %s and waits for %s (session %s is ahead)\n", st.Session, holds, strings.Join(st.WaitsFor, ", "), st.Next)
		}
	}
	if olderThan > 0 {
		if len(r.Old) == 0 {
			fmt.Fprintf(w, "no hold older than %v\n", olderThan)
		}
		for _, o := range r.Old {
			fmt.Fprintf(w, "held for %v: %s by session %s (%s), node %s\n", o.Age.Round(time.Second), o.Path, o.Session, o.Client, o.Node)
		}
	}
}
