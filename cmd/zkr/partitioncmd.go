package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/zkrecipes/zkrecipes/partition"
	"github.com/zkrecipes/zkrecipes/recipes"
)

func partitionCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	own, cmd := splitCmd(args)
	fs := flag.NewFlagSet("zkr partition", flag.ContinueOnError)
	servers := connFlags(fs)
	items := fs.String("items", "", "the set to divide, comma separated (every member gives the same)")
	id := fs.String("id", "", "this member's identifier (default <host>-<pid>)")
	stability := fs.Duration("stability", partition.DefaultStability, "how long the membership must stay the same before members take their shares")
	grace := graceFlag(fs)
	if err := parseFlags(fs, own, stdout, partitionHelp); err != nil {
		return err
	}
	path, err := onePath("partition", fs)
	if err != nil {
		return err
	}
	itemErr := badItem(path, *items)
	switch {
	case *items == "":
		return usageError("partition: --items is required")
	case itemErr != nil:
		return usageError("partition: --items: %v", itemErr)
	case strings.Contains(*id, "/"):
		return usageError("partition: --id %q is not a node name", *id)
	case len(cmd) == 0:
		return usageError("partition: want -- CMD")
	case *stability <= 0:
		return usageError("partition: --stability must be positive")
	}
	opts := []partition.Option{partition.WithStability(*stability)}
	if *id != "" {
		opts = append(opts, partition.WithIdentifier(*id))
	}
	s, err := connect(ctx, servers, 10*time.Second)
	if err != nil {
		return err
	}
	defer s.Close()
	p, err := partition.New(s, path, strings.Split(*items, ","), opts...)
	if err != nil {
		return usageError("%v", err)
	}
	err = p.Run(ctx, func(wctx context.Context, share []partition.Item) error {
		var names, tokens []string
		for _, it := range share {
			names, tokens = append(names, it.Name), append(tokens, strconv.FormatInt(it.Token, 10))
		}
		fmt.Fprintf(stderr, "zkr: %s owns %q\n", path, strings.Join(names, ","))
		if len(share) == 0 {
			return nil // nothing to run: wait for the next division
		}
		g, err := startGroup(cmd, commandEnv("ZKR_ITEMS="+strings.Join(names, ","),
			"ZKR_FENCING_TOKENS="+strings.Join(tokens, ","), "ZKR_PARTITION_PATH="+path), stderr)
		if err != nil {
			return err
		}
		select {
		case <-g.empty: // done on its own: the share stays ours until the division changes
		case <-wctx.Done():
			// The share's locks stay held until the callback returns:
			// while the session lives, zkr waits for processes that
			// SIGKILL does not end (see group.stop).
			if err := g.stop(syscall.SIGTERM, *grace, s.Done()); err != nil {
				// The session was lost meanwhile: their late writes carry
				// the old fencing tokens.
				return fmt.Errorf("the command would not stop: %w when the session ended: %w", err, s.Err())
			}
		}
		return nil
	})
	switch {
	case ctx.Err() != nil:
		return exitErr{exitInterrupted, errQuiet}
	case errors.Is(err, recipes.ErrLost):
		return exitErr{exitLost, fmt.Errorf("lost the partition %s: %w", path, err)}
	}
	return err
}

// badItem says which item of the comma-separated list is not a node name
// (under the partition's path, as partition.New wants them), if one is:
// before zkr connects, as partition.New cannot.
func badItem(path, items string) error {
	for _, it := range strings.Split(items, ",") {
		if it == "" || strings.Contains(it, "/") || recipes.ValidatePath(path+"/locks/"+it) != nil {
			return fmt.Errorf("%q is not a node name", it)
		}
	}
	return nil
}
