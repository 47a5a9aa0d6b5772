// Command zkr runs a command under a ZooKeeper lock or while leader, and
// shows who holds what.
//
//	zkr lock [--servers S] [--timeout D] [--try] [--read|--write] PATH [-- CMD [ARGS...]]
//	zkr elect [--servers S] --id ID PATH -- CMD [ARGS...]
//	zkr elect [--servers S] --observe PATH
//	zkr inspect [--servers S] [--json] PATH
//
// Servers come from --servers or the ZK_SERVERS environment variable
// ("host:port,host:port"). CMD gets ZKR_LOCK_PATH (its node) and
// ZKR_FENCING_TOKEN in its environment. If the lock or leadership is lost
// while CMD runs, CMD gets SIGTERM, then SIGKILL after a grace period, and
// zkr exits with code 4. Without CMD, zkr lock holds until interrupted.
// Ctrl-C releases what is held and exits.
//
// Exit codes: CMD's own when it ran to the end; 1 error; 2 bad usage;
// 3 --try found the lock held; 4 lost while CMD ran; 130/143 interrupted.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/zkrecipes/zkrecipes/recipes"
)

// Exit codes besides CMD's own.
const (
	exitError       = 1
	exitUsage       = 2
	exitBusy        = 3
	exitLost        = 4
	exitInterrupted = 130
)

// exitErr carries an exit code out of a subcommand.
type exitErr struct {
	code int
	err  error
}

func (e exitErr) Error() string { return e.err.Error() }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch args[0] {
	case "lock":
		err = lockCmd(ctx, args[1:], stdout, stderr)
	case "elect":
		err = electCmd(ctx, args[1:], stdout, stderr)
	case "inspect":
		err = inspectCmd(ctx, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return 0
	default:
		err = usageError("unknown command %q", args[0])
	}
	if err == nil {
		return 0
	}
	var e exitErr
	if !errors.As(err, &e) {
		e = exitErr{exitError, err}
	}
	if ctx.Err() != nil && e.code == exitError {
		e.code = exitInterrupted
	}
	if e.err != nil && e.code != 0 && !errors.Is(e.err, errQuiet) {
		fmt.Fprintln(stderr, "zkr:", e.err)
	}
	return e.code
}

// errQuiet marks an exit whose reason was already reported (CMD's exit).
var errQuiet = errors.New("")

const usage = `usage:
  zkr lock [--servers S] [--timeout D] [--try] [--read|--write] PATH [-- CMD [ARGS...]]
  zkr elect [--servers S] --id ID PATH -- CMD [ARGS...]
  zkr elect [--servers S] --observe PATH
  zkr inspect [--servers S] [--json] PATH
servers default to $ZK_SERVERS`

func usageError(format string, args ...any) error {
	return exitErr{exitUsage, fmt.Errorf(format, args...)}
}

// connect opens a session to the servers given, or to $ZK_SERVERS.
func connect(ctx context.Context, servers string, timeout time.Duration) (*recipes.Session, error) {
	if servers == "" {
		servers = os.Getenv("ZK_SERVERS")
	}
	if servers == "" {
		return nil, usageError("no servers: use --servers or set ZK_SERVERS")
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	s, err := recipes.Connect(cctx, strings.Split(servers, ","),
		recipes.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		if ctx.Err() != nil {
			return nil, exitErr{exitInterrupted, errors.New("interrupted")}
		}
		return nil, fmt.Errorf("cannot reach ZooKeeper at %s within %v", servers, timeout)
	}
	return s, nil
}

// onePath returns the single PATH argument of a subcommand, checked.
func onePath(cmd string, fs *flag.FlagSet) (string, error) {
	if fs.NArg() != 1 {
		return "", usageError("%s: want one PATH, got %d arguments", cmd, fs.NArg())
	}
	if err := recipes.ValidatePath(fs.Arg(0)); err != nil {
		return "", usageError("%s: %v", cmd, err)
	}
	return fs.Arg(0), nil
}

// splitCmd separates flags and arguments from the command after "--".
func splitCmd(args []string) (own, cmd []string) {
	for i, a := range args {
		if a == "--" {
			return args[:i], args[i+1:]
		}
	}
	return args, nil
}
