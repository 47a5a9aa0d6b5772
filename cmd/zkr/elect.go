package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/zkrecipes/zkrecipes/leader"
)

func electCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	own, cmd := splitCmd(args)
	fs := flag.NewFlagSet("zkr elect", flag.ContinueOnError)
	servers := connFlags(fs)
	id := fs.String("id", "", "this candidate's value, e.g. its address")
	observe := fs.Bool("observe", false, "print leadership changes instead of campaigning")
	heed := revocableFlag(fs)
	grace := graceFlag(fs)
	if err := parseFlags(fs, own, stdout, electHelp); err != nil {
		return err
	}
	path, err := onePath("elect", fs)
	if err != nil {
		return err
	}
	switch {
	case *observe && len(cmd) > 0:
		return usageError("elect: --observe takes no CMD")
	case !*observe && *id == "":
		return usageError("elect: --id is required to campaign")
	case !*observe && len(cmd) == 0:
		return usageError("elect: want -- CMD to run while leader")
	}
	s, err := connect(ctx, servers, 10*time.Second)
	if err != nil {
		return err
	}
	defer s.Close()
	e, err := leader.New(s, path)
	if err != nil {
		return err
	}
	if *observe {
		for l := range e.Observe(ctx) {
			fmt.Fprintf(stdout, "%s leader %q token %d node %s\n", time.Now().Format(time.RFC3339Nano), l.Data, l.Token, l.Name)
		}
		// The channel closes when ctx ends or the session is lost.
		if ctx.Err() != nil {
			return exitErr{exitInterrupted, errQuiet}
		}
		cause := s.Err()
		if cause == nil {
			cause = errors.New("observation ended")
		}
		return exitErr{exitLost, fmt.Errorf("stopped observing %s: %v", path, cause)}
	}
	l, err := e.Campaign(ctx, []byte(*id))
	if err != nil {
		return acquireErr(ctx, err, 0)
	}
	defer release(l.Resign)
	return runUnder(ctx, l, revocable(l, *heed), command{args: cmd, grace: *grace, stderr: stderr, lossGrace: lossGrace(s)})
}
