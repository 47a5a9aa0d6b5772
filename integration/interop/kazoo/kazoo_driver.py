"""kazoo_driver runs Kazoo recipes on command, for interop tests and
benchmarks: one command per line on stdin, one reply per line on stdout.

  lock PATH      -> "locked PATH" once kazoo's Lock is acquired
  trylock PATH   -> "locked PATH" or "busy PATH"
  unlock PATH    -> "unlocked PATH"
  bench KIND PATH CLIENTS MILLIS -> CLIENTS threads, each with a client
      (session) of its own, acquire and release for MILLIS ms kazoo's Lock
      (KIND mutex), ReadLock (read) or, one time in ten, WriteLock (mix).
      KIND items takes two more, PATHS INFLIGHT: INFLIGHT threads per
      client, each taking the Lock of PATH/item-I, I random below PATHS.
      It says "started" once connected and waits for a line; then
      "finished" and waits for a line (the caller reads the server's
      counters meanwhile); then "result N P50_US P99_US"
  benchelect PATH N -> N hand-overs of each kind between kazoo Elections
      on clients (sessions) of their own, from the leader's function
      returning (resign) or its client stopping (closed) until the next
      candidate, queued beforehand, runs its function:
      "elected resign US,US,... closed US,US,..."
  party PATH ID  -> joins Party(PATH, ID): "joined PATH"
  members PATH   -> "members ID,ID,..." of Party(PATH), sorted
  elect PATH ID  -> a candidate of Election(PATH, ID) in a thread:
                    "electing PATH"; when it leads, "leading PATH ID",
                    and it leads until unelect PATH
  unelect PATH   -> its function returns: "unelected PATH"
  contenders PATH -> "contenders ID,ID,..." of Election(PATH), in order
  partition PATH ITEMS ID SECONDS -> a SetPartitioner of ITEMS (comma
      separated) with identifier ID and time_boundary SECONDS, in a
      thread: "owns ID ITEM,ITEM,..." each time it has acquired its share
      (releasing it when the party changes)
  quit                            -> exits

It prints "ready" once connected. Nodes of zkrecipes and Curator mutexes
count as contenders (extra_lock_patterns). With KAZOO_TLS_CA set to a PEM
file, every client speaks TLS (use_ssl) and verifies the servers with it.
"""
import os
import random
import sys
import threading
import time

from kazoo.client import KazooClient


def say(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def client(connect):
    """A started client: a session of its own."""
    ca = os.environ.get("KAZOO_TLS_CA")
    if ca:
        zk = KazooClient(hosts=connect, timeout=10.0, use_ssl=True, ca=ca, verify_certs=True)
    else:
        zk = KazooClient(hosts=connect, timeout=10.0)
    zk.start(timeout=30)
    return zk


def bench(connect, kind, path, clients, millis, paths=0, in_flight=1):
    zks = [client(connect) for _ in range(clients)]
    waits = []
    lock = threading.Lock()
    say("started")
    sys.stdin.readline()  # "go": the caller has read the server's counters
    end = time.monotonic() + millis / 1000.0

    def run(zk):
        if kind == "items":  # a Lock per acquisition, of a random item
            pick = lambda: zk.Lock("%s/item-%d" % (path, random.randrange(paths)), extra_lock_patterns=["-lock-"])
        elif kind == "mutex":
            m = zk.Lock(path, extra_lock_patterns=["-lock-"])
            pick = lambda: m
        else:
            r, w = zk.ReadLock(path), zk.WriteLock(path)
            pick = lambda: w if kind == "mix" and random.random() < 0.1 else r
        mine = []
        while time.monotonic() < end:
            m = pick()
            t0 = time.monotonic()
            m.acquire()
            mine.append(int((time.monotonic() - t0) * 1e6))
            m.release()
        with lock:
            waits.extend(mine)

    threads = [threading.Thread(target=run, args=(zk,)) for zk in zks for _ in range(in_flight)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    say("finished")
    sys.stdin.readline()  # "close"
    for zk in zks:
        zk.stop()
        zk.close()
    waits.sort()
    n = len(waits)
    p50 = waits[n // 2] if n else 0
    p99 = waits[min(n - 1, n * 99 // 100)] if n else 0
    return "result %d %d %d" % (n, p50, p99)


class Candidate:
    """An Election on zk, run in a thread, that leads until told to resign."""

    def __init__(self, zk, path):
        self.zk = zk
        self.led = threading.Event()
        self.resign = threading.Event()
        self.at = None
        election = zk.Election(path)
        threading.Thread(target=self._run, args=(election,), daemon=True).start()

    def _run(self, election):
        def lead():
            self.at = time.monotonic()
            self.led.set()
            self.resign.wait()
        try:
            election.run(lead)
        except Exception:  # a stopped client cannot release: the server deletes its node
            pass


def bench_elect(connect, path, n):
    spare = []
    leader = Candidate(client(connect), path)
    leader.led.wait()
    out = ["elected"]
    for how in ("resign", "closed"):
        took = []
        for _ in range(n):
            nxt = Candidate(spare.pop() if spare else client(connect), path)
            while len(nxt.zk.get_children(path)) < 2:  # setup, not measured
                time.sleep(0.001)
            t0 = time.monotonic()
            if how == "resign":
                leader.resign.set()
                spare.append(leader.zk)
            else:
                leader.zk.stop()
                leader.zk.close()
                leader.resign.set()
            if not nxt.led.wait(60):
                raise Exception("no new leader a minute after " + how)
            took.append(str(int((nxt.at - t0) * 1e6)))
            leader = nxt
        out += [how, ",".join(took)]
    leader.resign.set()
    for zk in spare + [leader.zk]:
        zk.stop()
        zk.close()
    return " ".join(out)


def partition(zk, path, items, ident, boundary):
    """Runs a SetPartitioner the way Kazoo's documentation does, saying
    what it owns each time it has acquired its share."""
    qp = zk.SetPartitioner(path, set=items, identifier=ident, time_boundary=boundary)
    while True:
        if qp.failed:
            say("partition-failed " + ident)
            return
        elif qp.release:
            qp.release_set()
        elif qp.acquired:
            say("owns %s %s" % (ident, ",".join(sorted(qp))))
            while qp.acquired:
                time.sleep(0.05)
        elif qp.allocating:
            qp.wait_for_acquire()


def main():
    connect = sys.argv[1]
    zk = client(connect)
    locks = {}
    parties = {}
    elections = {}

    def mutex(path):
        if path not in locks:
            locks[path] = zk.Lock(path, extra_lock_patterns=["-lock-"])
        return locks[path]

    say("ready")
    for line in sys.stdin:
        f = line.split()
        if not f:
            continue
        try:
            if f[0] == "lock":
                mutex(f[1]).acquire()
                say("locked " + f[1])
            elif f[0] == "trylock":
                say(("locked " if mutex(f[1]).acquire(blocking=False) else "busy ") + f[1])
            elif f[0] == "unlock":
                mutex(f[1]).release()
                say("unlocked " + f[1])
            elif f[0] == "elect":
                path, ident, done = f[1], f[2], threading.Event()

                def lead(path=path, ident=ident, done=done):
                    say("leading %s %s" % (path, ident))
                    done.wait()

                threading.Thread(target=zk.Election(path, ident).run, args=(lead,), daemon=True).start()
                elections[path] = done
                say("electing " + path)
            elif f[0] == "contenders":
                say("contenders " + ",".join(zk.Election(f[1]).contenders()))
            elif f[0] == "unelect":
                elections[f[1]].set()
                say("unelected " + f[1])
            elif f[0] == "partition":
                threading.Thread(target=partition, args=(zk, f[1], f[2].split(","), f[3], float(f[4])), daemon=True).start()
            elif f[0] == "party":
                parties[f[1]] = zk.Party(f[1], f[2])
                parties[f[1]].join()
                say("joined " + f[1])
            elif f[0] == "members":
                say("members " + ",".join(sorted(zk.Party(f[1]))))
            elif f[0] == "bench":
                say(bench(connect, f[1], f[2], int(f[3]), int(f[4]), *[int(x) for x in f[5:7]]))
            elif f[0] == "benchelect":
                say(bench_elect(connect, f[1], int(f[2])))
            elif f[0] == "quit":
                zk.stop()
                zk.close()
                return
            else:
                say("error unknown command " + f[0])
        except Exception as e:  # report, keep serving
            say("error %r" % (e,))


if __name__ == "__main__":
    main()
