// Command zkr runs a command under a ZooKeeper lock or while leader, and
// shows who holds what.
//
//	zkr lock [--servers S] [--timeout D] [--try] [--read|--write|-n N] [--max-hold D]
//	         [--session-timeout D] [--revocable] [--grace D] PATH... [-- CMD [ARGS...]]
//	zkr elect [--servers S] [--revocable] [--grace D] --id ID PATH -- CMD [ARGS...]
//	zkr elect [--servers S] --observe PATH
//	zkr inspect [--servers S] [--json] PATH
//	zkr revoke [--servers S] [--wait D] [--force] PATH [NODE...]
//	zkr top [--servers S] [--json] [--interval D] [--listen ADDR] PREFIX
//	zkr deadlocks [--servers S] [--older-than D] [--json] PREFIX
//	zkr group [--servers S] [--watch] [--json] PATH
//	zkr partition [--servers S] --items A,B,... [--id ID] [--stability D] [--grace D] PATH -- CMD [ARGS...]
//
// Servers come from --servers or the ZK_SERVERS environment variable
// ("host:port,host:port").
//
// CMD runs in a process group of its own, with ZKR_LOCK_PATH (its node)
// and ZKR_FENCING_TOKEN in its environment. zkr releases the lock or
// leadership, and exits, only once CMD and every process it started have
// exited: a script's background children stay under the hold, as with
// flock(1). On Linux, zkr is a child subreaper, so that every process CMD
// starts stays its descendant, whatever process group or session it moves
// to (setsid, set -m, a nested zkr, a daemon's double fork): zkr waits for
// and signals all of them. Elsewhere, it follows CMD's process group only:
// a process that leaves the group is not followed. A process handed to
// something outside zkr's tree (systemd-run, at, a service manager) is
// followed nowhere. Without CMD, zkr lock holds until interrupted or the
// lock is lost.
//
// If the hold is lost while they run, or zkr gets SIGINT, SIGTERM, SIGHUP
// or SIGQUIT, they get SIGTERM, then SIGKILL after the grace period
// (--grace, 5s; after a loss, a third of the session timeout at most,
// since the lock may pass to the next holder soon after), again until
// none is left; zkr exits with code 4 for a lost hold, else with 128 + the
// signal's number. A process that SIGKILL
// does not end (one zkr may not signal, such as a setuid program; one
// stuck in the kernel) keeps zkr holding: zkr names it on stderr, 5s after
// SIGKILL and every 30s after, and releases once it is gone; if the hold
// ends meanwhile, zkr says so and exits 4 (5 at its max hold) without it.
//
// SIGHUP or SIGINT, if zkr was started with it ignored (SIGHUP under
// nohup; SIGINT for a non-interactive shell's background job), stays
// ignored, by zkr and by CMD, which inherits it. CMD's group is not the
// terminal's foreground group: CMD gets signals from zkr, not from the
// terminal, and cannot read the terminal. A read stops (SIGTTIN) the
// reader's process group, CMD's own included: zkr says so on stderr and
// holds on until CMD ends (Ctrl-C ends it); a reader in a group of its own
// (set -m) stops alone, unnoticed. zkr ignores job control: Ctrl-Z
// (SIGTSTP, which does not reach CMD either), SIGTTIN and SIGTTOU do not
// stop it, and it keeps holding and its session alive. CMD keeps the
// default action of SIGTSTP and SIGTTIN, and inherits SIGTTOU ignored: it
// may write to the terminal whatever stty tostop says.
//
// With --max-hold D, zkr lock gives CMD's processes SIGTERM D after the
// grant (SIGKILL after the grace period), releases once they are gone, and
// exits 5; without CMD, it releases at D. Its nodes declare D + grace + 5s
// as their max hold: a waiter of ours evicts a zkr that cannot let go
// (stopped, hung) once that and a second have passed since it saw the
// hold, when a zkr that runs has long ended CMD.
//
// zkr elect --observe prints a line for each new leader until interrupted;
// if its session is lost, it says so in one line and exits with code 4, as
// zkr group --watch and zkr top (refreshing, or serving with --listen) do.
//
// zkr revoke asks the holders of PATH (or the contenders named) to let go,
// in Curator's protocol ("__REVOKE__" written into their nodes); a zkr
// started with --revocable heeds it as it would a lost hold, with exit code
// 6. With --force, it deletes their nodes instead, and says what that means
// for a holder that still runs.
//
// zkr inspect prints the node at PATH (kind, data, number of children),
// then its children: contenders in queue order with their state (holder
// or waiting), then the others. For a missing PATH it prints
// "PATH: missing (no such node)" and exits 0; with --json, "exists" is
// false. JSON gives node data losslessly: base64 in "data" (left out when
// empty), and as a string in "text" too when it is valid UTF-8.
//
// Exit codes: CMD's own when it ran to the end (128 + N if signal N
// killed it, as shells say); 1 error (one line); 2 bad usage; 3 --try
// found the lock held, revoke --wait found a node still there, or
// deadlocks found a cycle (or, with --older-than, an old hold); 4 the hold
// was lost while CMD ran, or the session of elect --observe, group --watch
// or top was lost; 5 --max-hold passed while CMD ran; 6 asked to let go
// while CMD ran (--revocable); 130, 143, 129, 131 interrupted by SIGINT,
// SIGTERM, SIGHUP, SIGQUIT.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
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

	"github.com/go-zookeeper/zk"

	"github.com/zkrecipes/zkrecipes/recipes"
)

// Exit codes besides CMD's own.
const (
	exitError       = 1
	exitUsage       = 2
	exitBusy        = 3
	exitLost        = 4
	exitMaxHold     = 5   // --max-hold passed while CMD ran
	exitRevoked     = 6   // asked to let go, with --revocable
	exitInterrupted = 130 // run makes it 128 + the signal's number
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
	ctx, stop := signalContext()
	defer stop()
	var err error
	switch args[0] {
	case "lock":
		err = lockCmd(ctx, args[1:], stdout, stderr)
	case "elect":
		err = electCmd(ctx, args[1:], stdout, stderr)
	case "inspect":
		err = inspectCmd(ctx, args[1:], stdout, stderr)
	case "revoke":
		err = revokeCmd(ctx, args[1:], stdout, stderr)
	case "deadlocks":
		err = deadlocksCmd(ctx, args[1:], stdout, stderr)
	case "top":
		err = topCmd(ctx, args[1:], stdout, stderr)
	case "group":
		err = groupCmd(ctx, args[1:], stdout, stderr)
	case "partition":
		err = partitionCmd(ctx, args[1:], stdout, stderr)
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
	if sig, ok := signalOf(ctx); ok && (e.code == exitError || e.code == exitInterrupted) {
		e.code = 128 + int(sig)
	}
	if e.err != nil && e.code != 0 && !errors.Is(e.err, errQuiet) {
		fmt.Fprintln(stderr, "zkr:", e.err)
	}
	return e.code
}

// interrupt is the cause of run's context once zkr gets a signal.
type interrupt struct{ sig syscall.Signal }

func (i interrupt) Error() string { return "interrupted by " + i.sig.String() }

// signalContext returns a context that ends, with an interrupt as its
// cause, when zkr gets SIGINT, SIGTERM, SIGHUP or SIGQUIT. SIGHUP or
// SIGINT, if zkr was started with it ignored (nohup, a non-interactive
// shell's background job), stays ignored, for zkr and for CMD, which
// inherits it. (Go's runtime takes SIGTERM and SIGQUIT even when they
// start ignored.)
//
// zkr is not stopped by job control: it must keep holding, and its
// session alive, while CMD runs. SIGTSTP (Ctrl-Z) and SIGTTIN are caught
// and dropped, so that CMD, whose caught signals are reset at exec, keeps
// their default action. SIGTTOU is ignored: a write to the terminal that
// raises a caught SIGTTOU (stty tostop) is retried after the handler, and
// raises it again, for ever; an ignored one lets the write through. CMD
// inherits that: it may write to the terminal whatever tostop says.
func signalContext() (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGQUIT)
	for _, s := range []os.Signal{syscall.SIGINT, syscall.SIGHUP} {
		if !signal.Ignored(s) {
			signal.Notify(sigs, s)
		}
	}
	dropped := make(chan os.Signal, 1) // never read
	signal.Notify(dropped, syscall.SIGTSTP, syscall.SIGTTIN)
	signal.Ignore(syscall.SIGTTOU)
	stopped := make(chan struct{})
	go func() {
		select {
		case s := <-sigs:
			cancel(interrupt{s.(syscall.Signal)})
		case <-stopped:
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		signal.Stop(dropped)
		close(stopped)
		cancel(nil)
	}
}

// signalOf returns the signal that ended ctx, if one did.
func signalOf(ctx context.Context) (syscall.Signal, bool) {
	var i interrupt
	if errors.As(context.Cause(ctx), &i) {
		return i.sig, true
	}
	return 0, false
}

// errQuiet marks an exit whose reason was already reported (CMD's exit).
var errQuiet = errors.New("")

const usage = `usage:
  zkr lock [--servers S] [--timeout D] [--try] [--read|--write|-n N]
           [--max-hold D] [--session-timeout D] [--revocable] [--grace D]
           PATH... [-- CMD [ARGS...]]
  zkr elect [--servers S] [--revocable] [--grace D] --id ID PATH -- CMD [ARGS...]
  zkr elect [--servers S] --observe PATH
  zkr inspect [--servers S] [--json] PATH
  zkr revoke [--servers S] [--wait D] [--force] PATH [NODE...]
  zkr top [--servers S] [--json] [--interval D] [--listen ADDR] PREFIX
  zkr deadlocks [--servers S] [--older-than D] [--json] PREFIX
  zkr group [--servers S] [--watch] [--json] PATH
  zkr partition [--servers S] --items A,B,... [--id ID] [--stability D] [--grace D] PATH -- CMD [ARGS...]
CMD runs in a process group of its own; zkr releases and exits once CMD
and every process it started have exited (on Linux, whatever group they
moved to; elsewhere, those of CMD's group). If the hold is lost, or zkr
gets SIGINT, SIGTERM, SIGHUP or SIGQUIT, they get SIGTERM, then SIGKILL
after --grace (default 5s). zkr ignores Ctrl-Z, SIGTTIN and SIGTTOU.
inspect says "missing" for a missing PATH; --json gives data as base64
("data") and, when it is valid UTF-8, as "text".
revoke asks the holders of PATH to let go (Curator's protocol); holders that
heed it (zkr --revocable, ours that listen, Curator's revocable mutexes) do.
top shows every recipe path under PREFIX; deadlocks finds cycles of
sessions waiting for each other there (exit 3).
` + exitCodes + `
servers default to $ZK_SERVERS; --auth SCHEME:FILE (or $ZK_AUTH) presents
credentials read from a file (or SCHEME:env:NAME, from a variable)`

func usageError(format string, args ...any) error {
	return exitErr{exitUsage, fmt.Errorf(format, args...)}
}

// connect opens a session to the servers given, or to $ZK_SERVERS, with
// the credentials given (or $ZK_AUTH) and opts (a session timeout).
func connect(ctx context.Context, c *connOpts, timeout time.Duration, opts ...recipes.Option) (*recipes.Session, error) {
	servers := c.servers
	if servers == "" {
		servers = os.Getenv("ZK_SERVERS")
	}
	auth, err := authOptions(c.auth)
	if err != nil {
		return nil, err
	}
	opts = append(auth, opts...)
	tlsOpt, err := tlsOptions(c)
	if err != nil {
		return nil, err
	}
	opts = append(opts, tlsOpt...)
	if servers == "" {
		return nil, usageError("no servers: use --servers or set ZK_SERVERS")
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	s, err := recipes.Connect(cctx, strings.Split(servers, ","),
		append([]recipes.Option{recipes.WithLogger(slog.New(slog.DiscardHandler))}, opts...)...)
	if err != nil {
		if ctx.Err() != nil {
			return nil, exitErr{exitInterrupted, errors.New("interrupted")}
		}
		return nil, fmt.Errorf("cannot reach ZooKeeper at %s within %v (%v)", servers, timeout, err)
	}
	return s, nil
}

// authOptions reads the credentials that spec (or $ZK_AUTH) names, as
// SCHEME:FILE or SCHEME:env:NAME, so that they never appear on a command
// line, which ps shows. With credentials, the nodes zkr makes are its own
// (ZooKeeper's auth scheme: every identity its session has), and readable
// by all: the clients of a recipe must read each other's nodes.
func authOptions(spec string) ([]recipes.Option, error) {
	if spec == "" {
		spec = os.Getenv("ZK_AUTH")
	}
	if spec == "" {
		return nil, nil
	}
	scheme, from, ok := strings.Cut(spec, ":")
	if !ok || scheme == "" || from == "" {
		return nil, usageError("--auth %q: want SCHEME:FILE or SCHEME:env:NAME", spec)
	}
	var creds []byte
	if name, ok := strings.CutPrefix(from, "env:"); ok {
		v, set := os.LookupEnv(name)
		if !set || v == "" {
			return nil, usageError("--auth: $%s is not set", name)
		}
		creds = []byte(v)
	} else {
		data, err := os.ReadFile(from)
		if err != nil {
			return nil, fmt.Errorf("--auth: %w", err)
		}
		creds = []byte(strings.TrimRight(string(data), "\r\n"))
	}
	acl := append(zk.AuthACL(zk.PermAll), zk.WorldACL(zk.PermRead)...)
	return []recipes.Option{recipes.WithAuth(scheme, creds), recipes.WithACL(acl...)}, nil
}

// tlsOptions makes the TLS configuration the flags (or $ZK_TLS_CA,
// $ZK_TLS_CERT, $ZK_TLS_KEY) ask for: none without an authority.
func tlsOptions(c *connOpts) ([]recipes.Option, error) {
	or := func(v, env string) string {
		if v == "" {
			return os.Getenv(env)
		}
		return v
	}
	ca, cert, key := or(c.tlsCA, "ZK_TLS_CA"), or(c.tlsCert, "ZK_TLS_CERT"), or(c.tlsKey, "ZK_TLS_KEY")
	switch {
	case ca == "" && (cert != "" || key != ""):
		return nil, usageError("--tls-cert and --tls-key need --tls-ca")
	case ca == "":
		return nil, nil
	case (cert == "") != (key == ""):
		return nil, usageError("--tls-cert and --tls-key go together")
	}
	pem, err := os.ReadFile(ca)
	if err != nil {
		return nil, fmt.Errorf("--tls-ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--tls-ca: no certificate in %s", ca)
	}
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if cert != "" {
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("--tls-cert: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return []recipes.Option{recipes.WithTLS(cfg)}, nil
}

// onePath returns the single PATH argument of a subcommand, checked.
func onePath(cmd string, fs *flag.FlagSet) (string, error) {
	if fs.NArg() != 1 {
		return "", usageError("%s: want one PATH, got %d arguments", cmd, fs.NArg())
	}
	return checkedPaths(cmd, fs.Args()[:1])
}

// somePaths returns the PATH arguments of a subcommand, at least one, each
// checked.
func somePaths(cmd string, fs *flag.FlagSet) ([]string, error) {
	if fs.NArg() == 0 {
		return nil, usageError("%s: want a PATH", cmd)
	}
	if _, err := checkedPaths(cmd, fs.Args()); err != nil {
		return nil, err
	}
	return fs.Args(), nil
}

// checkedPaths checks paths and returns the first.
func checkedPaths(cmd string, paths []string) (string, error) {
	for _, p := range paths {
		if err := recipes.ValidatePath(p); err != nil {
			return "", usageError("%s: %v", cmd, err)
		}
	}
	return paths[0], nil
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
