package main

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// key names the rows whose rounds are folded into one median.
type key struct {
	fsync    string
	kind     string
	impl     string
	sessions int
}

type summary struct {
	perSecond, requests float64
	p50, p99            time.Duration
	cycle               time.Duration // one acquire+release, for one session
}

// summaries holds the medians, and what was measured, in order.
type summaries struct {
	by       map[key]summary
	modes    []string
	impls    []string
	sessions map[string][]int // by kind
}

func (s summaries) get(mode, kind, impl string, n int) (summary, bool) {
	v, ok := s.by[key{mode, kind, impl, n}]
	return v, ok
}

func median[T float64 | time.Duration](xs []T) T {
	if len(xs) == 0 {
		return 0
	}
	xs = slices.Clone(xs)
	slices.Sort(xs)
	return xs[len(xs)/2]
}

func add[T comparable](list []T, v T) []T {
	if !slices.Contains(list, v) {
		list = append(list, v)
	}
	return list
}

func summarise(rows []row, d time.Duration) summaries {
	groups := map[key][]row{}
	s := summaries{by: map[key]summary{}, sessions: map[string][]int{}}
	for _, r := range rows {
		k := key{r.fsync, r.kind, r.impl, r.sessions}
		groups[k] = append(groups[k], r)
		s.modes, s.impls = add(s.modes, r.fsync), add(s.impls, r.impl)
		s.sessions[r.kind] = add(s.sessions[r.kind], r.sessions)
	}
	for _, ns := range s.sessions {
		slices.Sort(ns)
	}
	for k, rs := range groups {
		var per, reqs []float64
		var p50s, p99s, cycles []time.Duration
		for _, r := range rs {
			per, reqs = append(per, r.perSecond), append(reqs, r.requests)
			p50s, p99s = append(p50s, r.p50), append(p99s, r.p99)
			if r.acquisitions > 0 {
				cycles = append(cycles, d/time.Duration(r.acquisitions))
			}
		}
		s.by[k] = summary{median(per), median(reqs), median(p50s), median(p99s), median(cycles)}
	}
	return s
}

// table writes one table of kind's measurements: a row per session count,
// a column per implementation that has any.
func (s summaries) table(b *strings.Builder, mode, kind string, cell func(summary) string) {
	var impls []string
	for _, im := range s.impls {
		for _, n := range s.sessions[kind] {
			if _, ok := s.get(mode, kind, im, n); ok {
				impls = add(impls, im)
			}
		}
	}
	b.WriteString("| sessions |")
	for _, im := range impls {
		fmt.Fprintf(b, " %s |", im)
	}
	b.WriteString("\n| --- |" + strings.Repeat(" --- |", len(impls)) + "\n")
	for _, n := range s.sessions[kind] {
		fmt.Fprintf(b, "| %d |", n)
		for _, im := range impls {
			if v, ok := s.get(mode, kind, im, n); ok {
				fmt.Fprintf(b, " %s |", cell(v))
			} else {
				b.WriteString(" |")
			}
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
}

func throughput(v summary) string {
	return fmt.Sprintf("%.0f (%s / %s)", v.perSecond, ms(v.p50), ms(v.p99))
}

func requests(v summary) string { return fmt.Sprintf("%.2f", v.requests) }

func markdown(s summaries, elections []handover, d time.Duration, rounds int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# zkrecipes against its peers\n\nOne ZooKeeper server per fsync mode; every contender on a session of its own; "+
		"%v per measurement; medians of %d rounds taken in rotating order. Reproduce: `make bench`.\n\n", d, rounds)
	for _, mode := range s.modes {
		fmt.Fprintf(&b, "## Server fsync %s\n\n", mode)
		fmt.Fprintf(&b, "### Mutex\n\nAcquisitions per second (p50 / p99 wait):\n\n")
		s.table(&b, mode, mutexKind, throughput)
		b.WriteString("Server requests per acquisition (`mntr` zk_packets_received while the contenders run):\n\n")
		s.table(&b, mode, mutexKind, requests)
		fmt.Fprintf(&b, "![mutex acquisitions per second, fsync %s](mutex-fsync-%s.png)\n\n", mode, mode)
		if len(s.sessions[readKind]) > 0 {
			b.WriteString("### Read-write lock, read locks only\n\nAcquisitions per second (p50 / p99 wait):\n\n")
			s.table(&b, mode, readKind, throughput)
		}
		if len(s.sessions[mixKind]) > 0 {
			b.WriteString("### Read-write lock, 90% reads / 10% writes\n\nAcquisitions per second (p50 / p99 wait):\n\n")
			s.table(&b, mode, mixKind, throughput)
		}
		for _, kind := range []string{sem1Kind, sem4Kind} {
			if len(s.sessions[kind]) > 0 {
				fmt.Fprintf(&b, "### Semaphore of %d\n\nAcquisitions per second (p50 / p99 wait):\n\n", leasesOf(kind))
				s.table(&b, mode, kind, throughput)
				b.WriteString("Server requests per acquisition:\n\n")
				s.table(&b, mode, kind, requests)
			}
		}
		electionTable(&b, elections, mode)
		b.WriteString("### Targets\n\n")
		targets(&b, s, mode)
		b.WriteString("\n")
	}
	return b.String()
}

// electionTable writes the hand-over times of mode's elections: a row per
// way of giving up and implementation.
func electionTable(b *strings.Builder, elections []handover, mode string) {
	type row struct{ how, impl string }
	took := map[row][]time.Duration{}
	var rows []row
	for _, h := range elections {
		if h.fsync == mode {
			r := row{h.how, h.impl}
			took[r] = append(took[r], h.took)
			rows = add(rows, r)
		}
	}
	if len(rows) == 0 {
		return
	}
	slices.SortStableFunc(rows, func(a, b row) int { return strings.Compare(a.how, b.how) }) // resign first
	b.WriteString("### Election\n\nFrom the leader giving up to the next candidate, queued beforehand, being told it leads:\n\n")
	b.WriteString("| leader | implementation | hand-overs | p50 | p99 |\n| --- | --- | --- | --- | --- |\n")
	for _, r := range rows {
		p := percentiles(took[r])
		fmt.Fprintf(b, "| %s | %s | %d | %s | %s |\n", r.how, r.impl, p.n, ms(p.p50), ms(p.p99))
	}
	b.WriteString("\n")
}

func targets(b *strings.Builder, s summaries, mode string) {
	get := func(im string, n int) summary { v, _ := s.get(mode, mutexKind, im, n); return v }
	ours := func(n int) summary { return get("zkrecipes", n) }
	target := func(what string, ratio, want float64, atMost bool) {
		ok := ratio <= want
		if !atMost {
			ok = ratio >= want
		}
		mark := map[bool]string{true: "met", false: "NOT met"}[ok]
		rel := map[bool]string{true: "<=", false: ">="}[atMost]
		fmt.Fprintf(b, "- %s: %.2fx (target %s %.2fx): %s\n", what, ratio, rel, want, mark)
	}
	if raw := get("raw-floor", 1).cycle; raw > 0 && ours(1).cycle > 0 {
		target("uncontended acquire+release, zkrecipes / raw floor (time)", float64(ours(1).cycle)/float64(raw), 1.10, true)
	}
	if cur := get("curator", 1).cycle; cur > 0 {
		target("uncontended acquire+release, zkrecipes / Curator (time)", float64(ours(1).cycle)/float64(cur), 0.90, true)
	}
	for _, peer := range []struct {
		name, label string
		want        float64
	}{{"curator", "Curator", 2.0}, {"go-zookeeper", "go-zookeeper", 1.3}} {
		theirs := get(peer.name, 32).perSecond
		if theirs == 0 {
			continue
		}
		target("32 sessions, zkrecipes / "+peer.label+" (acquisitions/s)", ours(32).perSecond/theirs, peer.want, false)
		// The floor sends the least a queue lock can and trusts that a
		// deleted predecessor held: no lock can be faster, so its ratio
		// says whether the target can be reached here at all.
		if raw := get("raw-floor", 32).perSecond; raw > 0 {
			fmt.Fprintf(b, "  - bound: raw floor / %s: %.2fx\n", peer.label, raw/theirs)
		}
	}
	if r8 := ours(8).requests; r8 > 0 && ours(128).requests > 0 {
		target("requests per acquisition, 128 / 8 sessions", ours(128).requests/r8, 1.10, true)
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
