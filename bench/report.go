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
	impl     string
	sessions int
}

type summary struct {
	perSecond, requests float64
	p50, p99            time.Duration
	cycle               time.Duration // one acquire+release, for one session
}

func median[T float64 | time.Duration](xs []T) T {
	if len(xs) == 0 {
		return 0
	}
	xs = slices.Clone(xs)
	slices.Sort(xs)
	return xs[len(xs)/2]
}

func summarise(rows []row, d time.Duration) (map[key]summary, []string, []string, []int) {
	groups := map[key][]row{}
	var modes, impls []string
	var sessions []int
	for _, r := range rows {
		k := key{r.fsync, r.impl, r.sessions}
		groups[k] = append(groups[k], r)
		if !slices.Contains(modes, r.fsync) {
			modes = append(modes, r.fsync)
		}
		if !slices.Contains(impls, r.impl) {
			impls = append(impls, r.impl)
		}
		if !slices.Contains(sessions, r.sessions) {
			sessions = append(sessions, r.sessions)
		}
	}
	slices.Sort(sessions)
	out := map[key]summary{}
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
		out[k] = summary{median(per), median(reqs), median(p50s), median(p99s), median(cycles)}
	}
	return out, modes, impls, sessions
}

func markdown(rows []row, d time.Duration, rounds int) string {
	s, modes, impls, sessions := summarise(rows, d)
	var b strings.Builder
	fmt.Fprintf(&b, "# zkrecipes mutex against its peers\n\nOne ZooKeeper server per fsync mode; every contender on a session of its own; "+
		"%v per measurement; medians of %d rounds taken in rotating order. Reproduce: `make bench`.\n\n", d, rounds)
	for _, mode := range modes {
		fmt.Fprintf(&b, "## Server fsync %s\n\nAcquisitions per second (p50 / p99 wait):\n\n| sessions |", mode)
		for _, im := range impls {
			fmt.Fprintf(&b, " %s |", im)
		}
		b.WriteString("\n| --- |" + strings.Repeat(" --- |", len(impls)) + "\n")
		for _, n := range sessions {
			fmt.Fprintf(&b, "| %d |", n)
			for _, im := range impls {
				if v, ok := s[key{mode, im, n}]; ok {
					fmt.Fprintf(&b, " %.0f (%s / %s) |", v.perSecond, ms(v.p50), ms(v.p99))
				} else {
					b.WriteString(" |")
				}
			}
			b.WriteString("\n")
		}
		b.WriteString("\nServer requests per acquisition (`mntr` zk_packets_received):\n\n| sessions |")
		for _, im := range impls {
			fmt.Fprintf(&b, " %s |", im)
		}
		b.WriteString("\n| --- |" + strings.Repeat(" --- |", len(impls)) + "\n")
		for _, n := range sessions {
			fmt.Fprintf(&b, "| %d |", n)
			for _, im := range impls {
				if v, ok := s[key{mode, im, n}]; ok {
					fmt.Fprintf(&b, " %.2f |", v.requests)
				} else {
					b.WriteString(" |")
				}
			}
			b.WriteString("\n")
		}
		b.WriteString("\nTargets:\n\n")
		ours := func(n int) summary { return s[key{mode, "zkrecipes", n}] }
		other := func(im string, n int) summary { return s[key{mode, im, n}] }
		target := func(what string, ratio, want float64, atMost bool) {
			ok := ratio <= want
			if !atMost {
				ok = ratio >= want
			}
			mark := map[bool]string{true: "met", false: "NOT met"}[ok]
			rel := map[bool]string{true: "<=", false: ">="}[atMost]
			fmt.Fprintf(&b, "- %s: %.2fx (target %s %.2fx): %s\n", what, ratio, rel, want, mark)
		}
		if raw := other("raw-floor", 1).cycle; raw > 0 && ours(1).cycle > 0 {
			target("uncontended acquire+release, zkrecipes / raw floor (time)", float64(ours(1).cycle)/float64(raw), 1.10, true)
		}
		if cur := other("curator", 1).cycle; cur > 0 {
			target("uncontended acquire+release, zkrecipes / Curator (time)", float64(ours(1).cycle)/float64(cur), 0.90, true)
		}
		if cur := other("curator", 32).perSecond; cur > 0 {
			target("32 sessions, zkrecipes / Curator (acquisitions/s)", ours(32).perSecond/cur, 2.0, false)
		}
		if gz := other("go-zookeeper", 32).perSecond; gz > 0 {
			target("32 sessions, zkrecipes / go-zookeeper (acquisitions/s)", ours(32).perSecond/gz, 1.3, false)
		}
		if r8 := ours(8).requests; r8 > 0 && ours(128).requests > 0 {
			target("requests per acquisition, 128 / 8 sessions", ours(128).requests/r8, 1.10, true)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
