package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/zkrecipes/zkrecipes/recipes"
)

// topRow is one recipe path as zkr top shows it.
type topRow struct {
	Path        string   `json:"path"`
	Kind        string   `json:"kind"` // lock, rwlock, election, semaphore
	Holders     int      `json:"holders"`
	HeldFor     float64  `json:"held_for_seconds"` // the oldest hold's age
	Waiters     int      `json:"waiters"`
	LongestWait float64  `json:"longest_wait_seconds"`
	Clients     []string `json:"clients"`
}

// rows summarises a survey at now: holders, waiters and how long the
// oldest of each has been there (by the nodes' creation times, on the
// server's clock), and the client libraries of the nodes.
func rows(paths []recipePath, now time.Time) []topRow {
	out := make([]topRow, 0, len(paths))
	for _, rp := range paths {
		r := topRow{Path: rp.path, Kind: kindOfPath(rp), Clients: []string{}}
		all := append(slices.Clone(rp.nodes), rp.acquirers...)
		for i, c := range all {
			age := max(now.Sub(c.Created), 0).Seconds()
			if c.Held && (!rp.semaphore || i < len(rp.nodes)) {
				r.Holders++
				r.HeldFor = max(r.HeldFor, age)
			} else {
				r.Waiters++
				r.LongestWait = max(r.LongestWait, age)
			}
			if cl := clientOf(c); !slices.Contains(r.Clients, cl) {
				r.Clients = append(r.Clients, cl)
			}
		}
		slices.Sort(r.Clients)
		out = append(out, r)
	}
	return out
}

// kindOfPath names a recipe path's kind by its nodes' names.
func kindOfPath(rp recipePath) string {
	if rp.semaphore {
		return "semaphore"
	}
	for _, c := range rp.nodes {
		switch {
		case strings.Contains(c.Name, "__READ__"), strings.Contains(c.Name, "__WRIT__"), strings.Contains(c.Name, "__rlock__"):
			return "rwlock"
		case strings.Contains(c.Name, "latch-"):
			return "election"
		}
	}
	return "lock"
}

func topCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("zkr top", flag.ContinueOnError)
	servers := connFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON once")
	interval := fs.Duration("interval", 2*time.Second, "how often to refresh in a terminal")
	listen := fs.String("listen", "", "serve the figures for Prometheus at http://`ADDR`/metrics instead")
	if err := parseFlags(fs, args, stdout, topHelp); err != nil {
		return err
	}
	prefix, err := onePath("top", fs)
	if err != nil {
		return err
	}
	if *interval <= 0 {
		return usageError("top: --interval must be positive")
	}
	var ln net.Listener
	if *listen != "" {
		if _, err := net.ResolveTCPAddr("tcp", *listen); err != nil {
			return usageError("top: --listen: %v", err)
		}
		if ln, err = net.Listen("tcp", *listen); err != nil {
			return err
		}
		defer ln.Close()
	}
	s, err := connect(ctx, servers, 10*time.Second)
	if err != nil {
		return err
	}
	defer s.Close()
	if ln != nil {
		return serveTop(ctx, s, prefix, ln, stderr)
	}
	lost := func() error {
		return exitErr{exitLost, fmt.Errorf("stopped showing %s: %v", prefix, s.Err())}
	}
	terminal := isTerminal(stdout) && !*asJSON
	for {
		paths, err := survey(ctx, s, prefix)
		if err != nil {
			if s.Err() != nil {
				return lost()
			}
			return err
		}
		rs := rows(paths, time.Now())
		switch {
		case *asJSON:
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(rs)
		case terminal:
			fmt.Fprint(stdout, "\x1b[H\x1b[2J") // home, clear
			fmt.Fprintf(stdout, "zkr top %s   %s   every %v, Ctrl-C to stop\n\n", prefix, time.Now().Format(time.TimeOnly), *interval)
		}
		if err := printTop(stdout, rs); err != nil || !terminal {
			return err
		}
		select {
		case <-time.After(*interval):
		case <-s.Done():
			return lost()
		case <-ctx.Done():
			return exitErr{exitInterrupted, errQuiet}
		}
	}
}

func printTop(w io.Writer, rs []topRow) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PATH\tKIND\tHOLDERS\tHELD FOR\tWAITERS\tLONGEST WAIT\tCLIENTS")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%s\t%s\n", r.Path, r.Kind, r.Holders, seconds(r.HeldFor, r.Holders), r.Waiters, seconds(r.LongestWait, r.Waiters), strings.Join(r.Clients, ","))
	}
	return tw.Flush()
}

func seconds(s float64, n int) string {
	if n == 0 {
		return "-"
	}
	return time.Duration(s * float64(time.Second)).Round(time.Second).String()
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// serveTop serves the figures of the tree under prefix at /metrics on ln, in
// Prometheus's text format, surveying the tree at every scrape, until ctx
// ends or the session is lost.
func serveTop(ctx context.Context, s *recipes.Session, prefix string, ln net.Listener, stderr io.Writer) error {
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		sctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
		defer cancel()
		paths, err := survey(sctx, s, prefix)
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		writeMetrics(w, rows(paths, time.Now()))
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stderr, "zkr: serving the figures of %s at http://%s/metrics\n", prefix, ln.Addr())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	shutdown := func(result error) error {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return result
	}
	select {
	case err := <-done:
		return err
	case <-s.Done():
		return shutdown(exitErr{exitLost, fmt.Errorf("stopped serving the figures of %s: %v", prefix, s.Err())})
	case <-ctx.Done():
		return shutdown(exitErr{exitInterrupted, errQuiet})
	}
}

// writeMetrics writes rs as Prometheus gauges, one series per path.
func writeMetrics(w io.Writer, rs []topRow) {
	gauges := []struct {
		name, help string
		value      func(topRow) float64
	}{
		{"zkr_holders", "Contenders holding at the recipe path.", func(r topRow) float64 { return float64(r.Holders) }},
		{"zkr_waiters", "Contenders waiting at the recipe path.", func(r topRow) float64 { return float64(r.Waiters) }},
		{"zkr_oldest_hold_seconds", "Age of the oldest hold at the recipe path (0 if none).", func(r topRow) float64 { return r.HeldFor }},
		{"zkr_longest_wait_seconds", "Age of the oldest waiter at the recipe path (0 if none).", func(r topRow) float64 { return r.LongestWait }},
	}
	for _, g := range gauges {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n", g.name, g.help, g.name)
		for _, r := range rs {
			fmt.Fprintf(w, "%s{path=\"%s\",kind=\"%s\"} %g\n", g.name, labelValue.Replace(r.Path), r.Kind, g.value(r))
		}
	}
}

// labelValue escapes a label value as Prometheus's text format does.
var labelValue = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
