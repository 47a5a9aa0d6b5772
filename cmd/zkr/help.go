package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"
)

// zkr parses its flags with the standard library's flag package: three
// subcommands with a handful of flags each do not earn cobra's dependencies
// a place in the module that every user of the library downloads.

// help is what `zkr SUBCOMMAND --help` says besides the flags.
type help struct {
	synopsis string // after "usage: "
	about    string
	examples string
}

// parseFlags parses args with fs. Asked for help (-h, --help), it prints
// the subcommand's help and flags to stdout and returns an exit of 0; a bad
// flag is a usage error (one line, exit 2).
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer, h help) error {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		printHelp(stdout, fs, h)
		return exitErr{0, errQuiet}
	case err != nil:
		return usageError("%s: %v", strings.TrimPrefix(fs.Name(), "zkr "), err)
	}
	if g := fs.Lookup("grace"); g != nil && g.Value.(flag.Getter).Get().(time.Duration) < 0 {
		return usageError("%s: --grace must not be negative", strings.TrimPrefix(fs.Name(), "zkr "))
	}
	return nil
}

// connOpts is how a subcommand reaches ZooKeeper: the servers, and the
// credentials to present.
type connOpts struct{ servers, auth, tlsCA, tlsCert, tlsKey string }

// connFlags and graceFlag add the flags that several subcommands share.
func connFlags(fs *flag.FlagSet) *connOpts {
	var c connOpts
	fs.StringVar(&c.servers, "servers", "", "ZooKeeper servers, host:port,... (default $ZK_SERVERS)")
	fs.StringVar(&c.auth, "auth", "", "credentials, as `SCHEME:FILE` (the file holds them, e.g. user:password for digest) or SCHEME:env:NAME (the variable NAME does); never on the command line itself (default $ZK_AUTH)")
	fs.StringVar(&c.tlsCA, "tls-ca", "", "speak TLS, verifying the servers with the authorities in this PEM `FILE` (default $ZK_TLS_CA)")
	fs.StringVar(&c.tlsCert, "tls-cert", "", "with TLS, present the client certificate in this PEM `FILE` (default $ZK_TLS_CERT)")
	fs.StringVar(&c.tlsKey, "tls-key", "", "the client certificate's key, PEM `FILE` (default $ZK_TLS_KEY)")
	return &c
}

func revocableFlag(fs *flag.FlagSet) *bool {
	return fs.Bool("revocable", false, "let go when asked to (zkr revoke, Curator's Revoker): CMD is terminated, exit 6")
}

func graceFlag(fs *flag.FlagSet) *time.Duration {
	return fs.Duration("grace", gracePeriod, "`time` CMD's processes have between SIGTERM and SIGKILL (after a lost hold, a third of the session timeout at most)")
}

func printHelp(w io.Writer, fs *flag.FlagSet, h help) {
	fmt.Fprintf(w, "usage: %s\n\n%s\n\nflags:\n", h.synopsis, h.about)
	fs.VisitAll(func(f *flag.Flag) {
		name, usage := flag.UnquoteUsage(f)
		arg := "--" + f.Name
		if len(f.Name) == 1 {
			arg = "-" + f.Name
		}
		if name != "" {
			arg += " " + name
		}
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0s" && f.DefValue != "0" {
			usage += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(w, "  %-28s %s\n", arg, usage)
	})
	fmt.Fprintf(w, "\nexamples:\n%s\n\n%s\nServers default to $ZK_SERVERS, credentials (--auth) to $ZK_AUTH.\n", h.examples, exitCodes)
}

// exitCodes is said by the usage and by every command's help.
const exitCodes = `exit codes: CMD's own (128+N if signal N killed it); 1 error; 2 bad usage;
3 --try found it held, revoke --wait found it still held, or deadlocks found
a cycle or an old hold; 4 lost the hold while CMD ran, or the session of elect
--observe, group --watch or top; 5 --max-hold passed while CMD ran; 6 asked
to let go while CMD ran (--revocable); 130/143/129/131 interrupted by
SIGINT/SIGTERM/SIGHUP/SIGQUIT.`

var lockHelp = help{
	synopsis: "zkr lock [flags] PATH... [-- CMD [ARGS...]]",
	about: `Takes the mutex at PATH (with --read or --write, the read-write lock; with
-n N, one of N leases of the semaphore) and runs CMD while it holds it, in a
process group of its own; CMD gets ZKR_LOCK_PATH and ZKR_FENCING_TOKEN. With
several PATHs, zkr takes them all (in path order, so that two zkrs never
deadlock) and the variables list each node and token, separated by spaces.
zkr releases and exits once CMD and every process it started have exited (on
Linux, whatever process group or session they moved to; elsewhere, those of
CMD's group). If the lock is lost, or zkr gets SIGINT, SIGTERM, SIGHUP or
SIGQUIT, they get SIGTERM, then SIGKILL after --grace; after a loss, after a
third of the session timeout at most, since the lock may pass to the next
holder soon after (past that, only the fencing token guards what CMD
writes). Without CMD, zkr holds the
lock until interrupted. With --max-hold D (one PATH), they get SIGTERM D after the
grant (SIGKILL after --grace), and zkr releases once they are gone and exits 5
(without CMD, it releases at D). The nodes declare D + grace + 5s as their
max hold, so a zkr that cannot let go (stopped, hung) is evicted by the next
waiter of ours once that and a second have passed since it saw the hold,
long before its session would expire, and never while CMD is being
terminated. With --revocable, a revocation request (zkr revoke, Curator's
Revoker) ends the hold as a loss would, with exit code 6; without it, zkr
ignores requests.`,
	examples: `  zkr lock /locks/backup -- ./backup.sh
  zkr lock --try /locks/cron -- ./job.sh
  zkr lock --read --timeout 30s /locks/data -- ./report.sh
  zkr lock -n 3 /semaphores/exports -- ./export.sh
  zkr lock /locks/warehouse-a /locks/warehouse-b -- ./move-stock.sh
  zkr lock --max-hold 10m --session-timeout 30s /locks/nightly -- ./report.sh
  zkr lock --revocable /locks/reindex -- ./reindex.sh`,
}

var electHelp = help{
	synopsis: "zkr elect [flags] --id ID PATH -- CMD [ARGS...]\n       zkr elect [flags] --observe PATH",
	about: `Campaigns for leadership at PATH with ID as its value and runs CMD while
it leads, as zkr lock runs it; CMD is required. With --observe (and no
CMD), prints each new leader's value instead, until interrupted or its
session is lost (exit 4). With --revocable, a revocation request (zkr
revoke) ends the leadership, with exit code 6: a way to move it elsewhere.`,
	examples: `  zkr elect --id "$(hostname)" /elections/scheduler -- ./scheduler
  zkr elect --observe /elections/scheduler`,
}

var inspectHelp = help{
	synopsis: "zkr inspect [flags] PATH",
	about: `Prints the node at PATH (kind, data, children; "missing" if there is none)
and each contender queued there, by any known recipe or client (at a
semaphore's path: its leases, and the acquirers waiting for one): its state,
role, client library, session, age and token. --json prints one object:
path, exists, kind, data (base64), text (when the data is UTF-8), children,
nodes.`,
	examples: `  zkr inspect /locks/backup
  zkr inspect --json /locks/backup | jq .nodes`,
}

var revokeHelp = help{
	synopsis: "zkr revoke [flags] PATH [NODE...]",
	about: `Asks the holders of the lock, read-write lock or election at PATH (or the
contenders named by NODE, children of PATH, holding or waiting) to let go,
in Curator's protocol: it writes "__REVOKE__" into their nodes. A request
ends nothing by itself: holders that heed it let go (zkr --revocable; ours
that select on RevokeRequested; Curator's mutexes made revocable), others
keep holding. With --wait D, zkr waits up to D for every node asked to go,
and exits 3 if one is still there.

With --force, zkr deletes the nodes instead, and the lock passes to the next
waiter at once. A holder that is still running learns of it from its node's
watch (its Done fires, Err says its node was deleted) and should stop; until
it does, and if it is paused or cut off from ZooKeeper it may not know for
a while, it may still write to what the lock protects: fencing refuses those
writes (its token is older than the next holder's), nothing else does. Its
session lives on.`,
	examples: `  zkr revoke /locks/reindex
  zkr revoke --wait 30s /locks/reindex || zkr revoke --force /locks/reindex
  zkr revoke /elections/scheduler`,
}

var deadlocksHelp = help{
	synopsis: "zkr deadlocks [flags] PREFIX",
	about: `Finds cycles in the wait-for graph of every lock, read-write lock, election
and semaphore under PREFIX, from ZooKeeper alone: a session waits for the
contenders ahead of its node that block it, and holds where its node is
granted. Each cycle is a possible deadlock between processes (the goroutines
of one process share its session: a session that waits where it holds is
two of its goroutines, not a cycle). With --older-than D, it also lists
holds older than D. It exits 3 when it finds either, so that it can drive
an alert; 0 otherwise.`,
	examples: `  zkr deadlocks /locks
  zkr deadlocks --older-than 1h --json /locks`,
}

var topHelp = help{
	synopsis: "zkr top [flags] PREFIX",
	about: `Shows every lock, read-write lock, election and semaphore under PREFIX:
its holders and how long the oldest has held, its waiters and how long the
oldest has waited, and the client libraries of its nodes (ages by the
nodes' creation times, on the servers' clock). In a terminal it refreshes
in place until interrupted; otherwise, or with --json, it prints once.
With --listen ADDR it serves the same figures for Prometheus at
http://ADDR/metrics (zkr_holders, zkr_waiters, zkr_oldest_hold_seconds,
zkr_longest_wait_seconds, by path and kind), surveying at every scrape.
Refreshing or serving, it exits 4 when its session is lost.`,
	examples: `  zkr top /locks
  zkr top --json /locks | jq '.[] | select(.waiters > 0)'
  zkr top --listen :9464 /locks`,
}

var groupHelp = help{
	synopsis: "zkr group [flags] PATH",
	about: `Lists the members of the group at PATH (Curator's GroupMember layout, and
Kazoo's Party nodes by their identifier): id, payload, session. With
--watch, prints the whole membership again on every change, until
interrupted (130) or its session is lost (4).`,
	examples: `  zkr group /groups/api
  zkr group --watch /groups/api`,
}

var partitionHelp = help{
	synopsis: "zkr partition [flags] --items A,B,... PATH -- CMD [ARGS...]",
	about: `Joins the partition at PATH (Kazoo's SetPartitioner layout: Python members
share it) and runs CMD with this member's share of the items in ZKR_ITEMS
(comma separated), its locks' fencing tokens in ZKR_FENCING_TOKENS (in
the same order) and PATH in ZKR_PARTITION_PATH, in a process group of its own, while it holds their locks.
When the membership changes, CMD's processes get SIGTERM (SIGKILL after
--grace), the share is released, and once the membership has been stable for
--stability, CMD runs again with the new share. A CMD that exits on its own
is run again only at the next change. zkr stops on SIGINT, SIGTERM, SIGHUP
or SIGQUIT, or with exit 4 when its session is lost.`,
	examples: `  zkr partition --items feed-a,feed-b,feed-c,feed-d --id "$(hostname)" /partitions/feeds -- ./poll.sh`,
}
