package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkrecipes/zkrecipes/recipes"
)

func revokeCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("zkr revoke", flag.ContinueOnError)
	servers := connFlags(fs)
	wait := fs.Duration("wait", 0, "wait up to this long for the nodes asked to go (exit 3 if one stays)")
	force := fs.Bool("force", false, "delete the nodes instead of asking: the lock passes on at once")
	if err := parseFlags(fs, args, stdout, revokeHelp); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usageError("revoke: want a PATH")
	}
	path, err := checkedPaths("revoke", fs.Args()[:1])
	if err != nil {
		return err
	}
	nodes := fs.Args()[1:]
	switch {
	case *wait < 0:
		return usageError("revoke: --wait must not be negative")
	case *force && *wait > 0:
		return usageError("revoke: --force deletes at once; --wait is for requests")
	}
	s, err := connect(ctx, servers, 10*time.Second)
	if err != nil {
		return err
	}
	defer s.Close()
	if *force {
		return forceOut(ctx, s, path, nodes, stdout)
	}
	asked, err := recipes.Revoke(ctx, s, path, nodes...)
	if err != nil {
		return err
	}
	if len(asked) == 0 {
		fmt.Fprintf(stdout, "%s: no holder to ask\n", path)
		return nil
	}
	for _, c := range asked {
		fmt.Fprintf(stdout, "asked %s (session 0x%x, token %d) to let go\n", c.Name, c.Session, c.Token)
	}
	if *wait == 0 {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, *wait)
	defer cancel()
	for _, c := range asked {
		switch err := waitGone(wctx, s, c.Path); {
		case ctx.Err() != nil:
			return exitErr{exitInterrupted, errors.New("interrupted")}
		case wctx.Err() != nil:
			return exitErr{exitBusy, fmt.Errorf("%s still there after %v: its holder did not let go (zkr revoke --force deletes it)", c.Name, *wait)}
		case err != nil:
			return fmt.Errorf("waiting for %s to go: %w", c.Name, err)
		}
		fmt.Fprintf(stdout, "%s let go\n", c.Name)
	}
	return nil
}

// forceOut deletes the nodes of the holders of path (or of the contenders
// named), and says what that means for a holder that still runs.
func forceOut(ctx context.Context, s *recipes.Session, path string, nodes []string, stdout io.Writer) error {
	cs, err := recipes.Contenders(ctx, s, path)
	if err != nil {
		return err
	}
	var out []recipes.Contender
	for _, c := range cs {
		if len(nodes) == 0 && c.Held || slices.Contains(nodes, c.Name) {
			out = append(out, c)
		}
	}
	for _, n := range nodes {
		if !slices.ContainsFunc(out, func(c recipes.Contender) bool { return c.Name == n }) {
			return fmt.Errorf("revoke %s: %s: no such contender", path, n)
		}
	}
	if len(out) == 0 {
		fmt.Fprintf(stdout, "%s: no holder to delete\n", path)
		return nil
	}
	for _, c := range out {
		err := s.Conn().Delete(c.Path, -1)
		switch {
		case errors.Is(err, zk.ErrNoNode):
			fmt.Fprintf(stdout, "%s: gone already\n", c.Name)
			continue
		case err != nil:
			return fmt.Errorf("delete %s: %w", c.Path, err)
		}
		fmt.Fprintf(stdout, "deleted %s (session 0x%x, token %d). Its session lives on: a holder that still runs\n"+
			"learns from its node's watch that its hold ended and should stop; until then (longer if it\n"+
			"is paused or cut off) it may still write, and only fencing refuses its writes: token %d\n"+
			"or older.\n", c.Name, c.Session, c.Token, c.Token)
	}
	return nil
}

// waitGone waits until the node at p is gone, or ctx ends.
func waitGone(ctx context.Context, s *recipes.Session, p string) error {
	for {
		_, _, ch, err := s.Conn().GetW(p) // no watch left behind on a node gone
		switch {
		case errors.Is(err, zk.ErrNoNode):
			return nil
		case err != nil:
			return err
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
