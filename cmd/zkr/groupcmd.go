package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	membership "github.com/zkrecipes/zkrecipes/group"
)

func groupCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("zkr group", flag.ContinueOnError)
	servers := connFlags(fs)
	watch := fs.Bool("watch", false, "print the membership again on every change, until interrupted")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args, stdout, groupHelp); err != nil {
		return err
	}
	path, err := onePath("group", fs)
	if err != nil {
		return err
	}
	s, err := connect(ctx, servers, 10*time.Second)
	if err != nil {
		return err
	}
	defer s.Close()
	g, err := membership.New(s, path)
	if err != nil {
		return err
	}
	print := func(ms []membership.Member) error {
		if *asJSON {
			type member struct {
				ID      string `json:"id"`
				Payload []byte `json:"payload,omitempty"`
				Text    string `json:"text,omitempty"`
				Session string `json:"session"`
				Node    string `json:"node"`
			}
			out := []member{}
			for _, m := range ms {
				t := ""
				if p := text(m.Payload); p != nil {
					t = *p
				}
				out = append(out, member{m.ID, m.Payload, t, fmt.Sprintf("0x%x", m.Session), m.Node})
			}
			return json.NewEncoder(stdout).Encode(out)
		}
		if *watch {
			fmt.Fprintf(stdout, "%s %d members\n", time.Now().Format(time.RFC3339Nano), len(ms))
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		for _, m := range ms {
			fmt.Fprintf(tw, "%s\t%q\t0x%x\n", m.ID, m.Payload, m.Session)
		}
		return tw.Flush()
	}
	if !*watch {
		ms, err := g.Members(ctx)
		if err != nil {
			return err
		}
		return print(ms)
	}
	for ms := range g.Watch(ctx) {
		if err := print(ms); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return exitErr{exitInterrupted, errQuiet}
	}
	cause := s.Err()
	if cause == nil {
		cause = errors.New("a listing failed")
	}
	return exitErr{exitLost, fmt.Errorf("stopped watching %s: %v", path, cause)}
}
