// CuratorDriver runs Apache Curator recipes on command, for interop tests:
// one command per line on stdin, one reply per line on stdout.
//
//   lock PATH      -> "locked PATH TOKEN" once InterProcessMutex is acquired
//   trylock PATH   -> "locked PATH TOKEN" or "busy PATH"
//   unlock PATH    -> "unlocked PATH"
//   incr PATH COUNTER N -> N times: lock PATH, read COUNTER, sleep 1ms, write
//                     it plus one, unlock; then "incremented COUNTER"
//   rlock PATH / wlock PATH     -> "rlocked PATH" / "wlocked PATH" once
//                                  InterProcessReadWriteLock grants it
//   runlock PATH / wunlock PATH -> "runlocked PATH" / "wunlocked PATH"
//   latch PATH ID  -> starts a LeaderLatch with ID; prints "leader PATH ID"
//                     when it leads and "notleader PATH ID" when it stops
//   unlatch PATH   -> closes the latch: "unlatched PATH"
//   dbenter PATH N -> DistributedDoubleBarrier(PATH, N).enter(): "dbentered PATH"
//   dbleave PATH   -> leave(): "dbleft PATH"
//   benchelect PATH N -> N hand-overs of each kind between LeaderLatches on
//                     clients (sessions) of their own, from the leader
//                     closing its latch (resign) or its client (closed)
//                     until the next latch, queued beforehand, is told it
//                     leads: "elected resign US,US,... closed US,US,..."
//   bench KIND PATH CLIENTS MILLIS -> CLIENTS threads, each with a client
//                     (session) of its own, acquire and release for MILLIS ms
//                     InterProcessMutex (KIND mutex), the read lock of
//                     InterProcessReadWriteLock (read) or, one time in ten,
//                     its write lock (mix), or a lease of
//                     InterProcessSemaphoreV2 with max N (semaphore-N); KIND
//                     items takes two more arguments, PATHS INFLIGHT: each
//                     client runs INFLIGHT threads, each acquiring and
//                     releasing the InterProcessMutex of PATH/item-I for an
//                     I drawn at random below PATHS. KIND multi (PATHS
//                     INFLIGHT too) takes an InterProcessMultiLock of two
//                     such mutexes, a random pair in path order.
//                     Says "started" once connected and waits for a line, then "finished" and waits for a
//                     line (the caller reads the server's counters), then
//                     "result N P50_US P99_US" (N acquisitions, wait
//                     percentiles in microseconds)
//   semloop PATH MAX ROUNDS LOG ID MILLIS -> ROUNDS times: acquire a lease
//                     of InterProcessSemaphoreV2(PATH, MAX), create a
//                     persistent sequential LOG/e- holding "enter ID", sleep
//                     MILLIS, create one holding "exit ID", return the
//                     lease; then "semdone PATH ID"
//   multiloop PATHS ROUNDS LOG ID -> ROUNDS times: acquire an
//                     InterProcessMultiLock of the mutexes at PATHS (comma
//                     separated, taken in that order), log "enter ID" and
//                     "exit ID" as semloop does, release; then
//                     "multidone ID"
//   revlock PATH   -> "locked PATH TOKEN" once an InterProcessMutex made
//                     revocable is acquired; when a revocation request
//                     reaches it, "revoke-requested PATH" (unlock PATH
//                     releases it: a Curator mutex is released by the
//                     thread that holds it)
//   revoke NODE    -> Revoker.attemptRevoke(NODE): "revoke-sent NODE"
//   incrlong PATH N  -> N increments of DistributedAtomicLong(PATH), each
//                     tried until it succeeds: "incremented PATH"
//   incrcount PATH N -> N increments of SharedCount(PATH, 0) by
//                     trySetCount, each tried until it succeeds:
//                     "counted PATH"
//   groupjoin PATH ID -> a GroupMember(PATH, ID, payload ID) starts:
//                     "joined PATH" once its node exists
//   groupmembers PATH -> "members ID,ID,..." that member sees, sorted
//   selector PATH ID -> a LeaderSelector(PATH) with id ID starts:
//                     "selecting PATH"; when it leads, "leading PATH ID",
//                     and it leads until unselect PATH
//   unselect PATH  -> its takeLeadership returns: "unselected PATH"
//   participants PATH -> "participants ID,ID*,..." as that LeaderSelector
//                     sees them, in order, the leader marked with *
//   quit           -> closes the client and exits
//
// Commands run one at a time, in order; "ready" is printed once connected.
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.atomic.DistributedAtomicLong;
import org.apache.curator.framework.recipes.barriers.DistributedDoubleBarrier;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.nodes.GroupMember;
import org.apache.curator.framework.recipes.leader.LeaderLatchListener;
import org.apache.curator.framework.recipes.leader.LeaderSelector;
import org.apache.curator.framework.recipes.leader.LeaderSelectorListenerAdapter;
import org.apache.curator.framework.recipes.locks.InterProcessMultiLock;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.recipes.locks.InterProcessReadWriteLock;
import org.apache.curator.framework.recipes.locks.InterProcessSemaphoreV2;
import org.apache.curator.framework.recipes.locks.Lease;
import org.apache.curator.framework.recipes.locks.Revoker;
import org.apache.curator.framework.recipes.shared.SharedCount;
import org.apache.curator.framework.recipes.shared.VersionedValue;
import org.apache.curator.retry.RetryNTimes;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.data.Stat;

public class CuratorDriver {
    static String[] args;

    public static void main(String[] argv) throws Exception {
        args = argv;
        CuratorFramework client = connect(args[0]);
        if (client == null) {
            System.out.println("error not connected");
            System.exit(1);
        }
        Map<String, InterProcessMutex> mutexes = new HashMap<>();
        Map<String, InterProcessReadWriteLock> rwlocks = new HashMap<>();
        Map<String, LeaderLatch> latches = new HashMap<>();
        Map<String, DistributedDoubleBarrier> barriers = new HashMap<>();
        Map<String, GroupMember> members = new HashMap<>();
        Map<String, java.util.concurrent.Semaphore> selectors = new HashMap<>();
        Map<String, LeaderSelector> selectorsByPath = new HashMap<>();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        say("ready");
        String line;
        while ((line = in.readLine()) != null) {
            String[] f = line.trim().split(" ");
            try {
                switch (f[0]) {
                    case "lock": {
                        InterProcessMutex m = mutexes.computeIfAbsent(f[1], p -> new InterProcessMutex(client, p));
                        m.acquire();
                        say("locked " + f[1] + " " + token(client, m));
                        break;
                    }
                    case "trylock": {
                        InterProcessMutex m = mutexes.computeIfAbsent(f[1], p -> new InterProcessMutex(client, p));
                        if (m.acquire(0, TimeUnit.MILLISECONDS)) {
                            say("locked " + f[1] + " " + token(client, m));
                        } else {
                            say("busy " + f[1]);
                        }
                        break;
                    }
                    case "unlock":
                        mutexes.get(f[1]).release();
                        say("unlocked " + f[1]);
                        break;
                    case "incr": {
                        InterProcessMutex m = mutexes.computeIfAbsent(f[1], p -> new InterProcessMutex(client, p));
                        for (int i = 0; i < Integer.parseInt(f[3]); i++) {
                            m.acquire();
                            try {
                                int n = Integer.parseInt(new String(client.getData().forPath(f[2])));
                                Thread.sleep(1);
                                client.setData().forPath(f[2], Integer.toString(n + 1).getBytes());
                            } finally {
                                m.release();
                            }
                        }
                        say("incremented " + f[2]);
                        break;
                    }
                    case "rlock":
                        rwlocks.computeIfAbsent(f[1], p -> new InterProcessReadWriteLock(client, p)).readLock().acquire();
                        say("rlocked " + f[1]);
                        break;
                    case "wlock":
                        rwlocks.computeIfAbsent(f[1], p -> new InterProcessReadWriteLock(client, p)).writeLock().acquire();
                        say("wlocked " + f[1]);
                        break;
                    case "runlock":
                        rwlocks.get(f[1]).readLock().release();
                        say("runlocked " + f[1]);
                        break;
                    case "wunlock":
                        rwlocks.get(f[1]).writeLock().release();
                        say("wunlocked " + f[1]);
                        break;
                    case "latch": {
                        String path = f[1], id = f[2];
                        LeaderLatch latch = new LeaderLatch(client, path, id);
                        latch.addListener(new LeaderLatchListener() {
                            public void isLeader() { say("leader " + path + " " + id); }
                            public void notLeader() { say("notleader " + path + " " + id); }
                        });
                        latches.put(path, latch);
                        latch.start();
                        break;
                    }
                    case "unlatch":
                        latches.remove(f[1]).close();
                        say("unlatched " + f[1]);
                        break;
                    case "dbenter": {
                        DistributedDoubleBarrier b = new DistributedDoubleBarrier(client, f[1], Integer.parseInt(f[2]));
                        barriers.put(f[1], b);
                        b.enter();
                        say("dbentered " + f[1]);
                        break;
                    }
                    case "dbleave":
                        barriers.remove(f[1]).leave();
                        say("dbleft " + f[1]);
                        break;
                    case "bench":
                        say(bench(in, args[0], f[1], f[2], Integer.parseInt(f[3]), Long.parseLong(f[4]),
                                f.length > 6 ? Integer.parseInt(f[5]) : 0, f.length > 6 ? Integer.parseInt(f[6]) : 1));
                        break;
                    case "benchelect":
                        say(benchElect(args[0], f[1], Integer.parseInt(f[2])));
                        break;
                    case "semloop": {
                        InterProcessSemaphoreV2 sem = new InterProcessSemaphoreV2(client, f[1], Integer.parseInt(f[2]));
                        String log = f[4], id = f[5];
                        for (int i = 0; i < Integer.parseInt(f[3]); i++) {
                            Lease lease = sem.acquire();
                            try {
                                client.create().withMode(CreateMode.PERSISTENT_SEQUENTIAL).forPath(log + "/e-", ("enter " + id).getBytes());
                                Thread.sleep(Long.parseLong(f[6]));
                                client.create().withMode(CreateMode.PERSISTENT_SEQUENTIAL).forPath(log + "/e-", ("exit " + id).getBytes());
                            } finally {
                                sem.returnLease(lease);
                            }
                        }
                        say("semdone " + f[1] + " " + id);
                        break;
                    }
                    case "multiloop": {
                        InterProcessMultiLock multi = new InterProcessMultiLock(client, java.util.Arrays.asList(f[1].split(",")));
                        String log = f[3], id = f[4];
                        for (int i = 0; i < Integer.parseInt(f[2]); i++) {
                            multi.acquire();
                            try {
                                client.create().withMode(CreateMode.PERSISTENT_SEQUENTIAL).forPath(log + "/e-", ("enter " + id).getBytes());
                                Thread.sleep(2);
                                client.create().withMode(CreateMode.PERSISTENT_SEQUENTIAL).forPath(log + "/e-", ("exit " + id).getBytes());
                            } finally {
                                multi.release();
                            }
                        }
                        say("multidone " + id);
                        break;
                    }
                    case "revlock": {
                        String p = f[1];
                        InterProcessMutex m = new InterProcessMutex(client, p);
                        m.makeRevocable(x -> say("revoke-requested " + p));
                        mutexes.put(p, m);
                        m.acquire();
                        say("locked " + p + " " + token(client, m));
                        break;
                    }
                    case "incrlong": {
                        DistributedAtomicLong dal = new DistributedAtomicLong(client, f[1], new RetryNTimes(10, 1));
                        for (int i = 0; i < Integer.parseInt(f[2]); i++) {
                            while (!dal.increment().succeeded()) {
                            }
                        }
                        say("incremented " + f[1]);
                        break;
                    }
                    case "incrcount": {
                        SharedCount sc = new SharedCount(client, f[1], 0);
                        sc.start();
                        for (int i = 0; i < Integer.parseInt(f[2]); i++) {
                            while (true) {
                                VersionedValue<Integer> v = sc.getVersionedValue();
                                if (sc.trySetCount(v, v.getValue() + 1)) {
                                    break;
                                }
                            }
                        }
                        sc.close();
                        say("counted " + f[1]);
                        break;
                    }
                    case "selector": {
                        String p = f[1], id = f[2];
                        java.util.concurrent.Semaphore release = new java.util.concurrent.Semaphore(0);
                        LeaderSelector ls = new LeaderSelector(client, p, new LeaderSelectorListenerAdapter() {
                            @Override
                            public void takeLeadership(CuratorFramework c) throws Exception {
                                say("leading " + p + " " + id);
                                release.acquire();
                            }
                        });
                        ls.setId(id);
                        ls.start();
                        selectors.put(p, release);
                        selectorsByPath.put(p, ls);
                        say("selecting " + p);
                        break;
                    }
                    case "participants": {
                        java.util.List<String> ps = new java.util.ArrayList<>();
                        for (org.apache.curator.framework.recipes.leader.Participant pt : selectorsByPath.get(f[1]).getParticipants()) {
                            ps.add(pt.getId() + (pt.isLeader() ? "*" : ""));
                        }
                        say("participants " + String.join(",", ps));
                        break;
                    }
                    case "unselect":
                        selectors.get(f[1]).release();
                        say("unselected " + f[1]);
                        break;
                    case "groupjoin": {
                        GroupMember gm = new GroupMember(client, f[1], f[2], f[2].getBytes());
                        gm.start(); // its node is made in the background: say so once it is there
                        while (client.checkExists().forPath(f[1] + "/" + f[2]) == null) {
                            Thread.sleep(10);
                        }
                        members.put(f[1], gm);
                        say("joined " + f[1]);
                        break;
                    }
                    case "groupmembers": {
                        java.util.List<String> ids = new java.util.ArrayList<>(members.get(f[1]).getCurrentMembers().keySet());
                        java.util.Collections.sort(ids);
                        say("members " + String.join(",", ids));
                        break;
                    }
                    case "revoke":
                        Revoker.attemptRevoke(client, f[1]);
                        say("revoke-sent " + f[1]);
                        break;
                    case "quit":
                        client.close();
                        return;
                    default:
                        say("error unknown command " + f[0]);
                }
            } catch (Exception e) {
                say("error " + e);
            }
        }
        client.close();
    }

    static String bench(BufferedReader in, String connect, String kind, String path, int clients, long millis,
                        int paths, int inFlight) throws Exception {
        java.util.List<CuratorFramework> cs = new java.util.ArrayList<>();
        for (int i = 0; i < clients; i++) {
            cs.add(connect(connect));
        }
        java.util.List<Long> waits = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
        say("started");
        in.readLine(); // "go": the caller has read the server's counters
        long end = System.nanoTime() + millis * 1_000_000L;
        java.util.List<Thread> threads = new java.util.ArrayList<>();
        for (CuratorFramework c : cs) for (int k = 0; k < inFlight; k++) {
            Thread t = new Thread(() -> {
                InterProcessMutex mutex = new InterProcessMutex(c, path);
                InterProcessReadWriteLock rw = new InterProcessReadWriteLock(c, path);
                InterProcessSemaphoreV2 sem = kind.startsWith("semaphore-")
                        ? new InterProcessSemaphoreV2(c, path, Integer.parseInt(kind.substring("semaphore-".length()))) : null;
                java.util.Random rnd = new java.util.Random();
                try {
                    while (kind.equals("multi") && System.nanoTime() < end) {
                        int i = rnd.nextInt(paths), j = (i + 1 + rnd.nextInt(paths - 1)) % paths;
                        java.util.List<String> pair = new java.util.ArrayList<>(java.util.List.of(path + "/item-" + i, path + "/item-" + j));
                        java.util.Collections.sort(pair); // one order for every client: no deadlock
                        InterProcessMultiLock m = new InterProcessMultiLock(c, pair);
                        long t0 = System.nanoTime();
                        m.acquire();
                        waits.add((System.nanoTime() - t0) / 1000);
                        m.release();
                    }
                    while (kind.equals("items") && System.nanoTime() < end) {
                        // one InterProcessMutex per acquisition: each holds
                        // its own thread's state, and this thread takes one
                        InterProcessMutex m = new InterProcessMutex(c, path + "/item-" + rnd.nextInt(paths));
                        long t0 = System.nanoTime();
                        m.acquire();
                        waits.add((System.nanoTime() - t0) / 1000);
                        m.release();
                    }
                    while (sem != null && System.nanoTime() < end) {
                        long t0 = System.nanoTime();
                        Lease lease = sem.acquire();
                        waits.add((System.nanoTime() - t0) / 1000);
                        sem.returnLease(lease);
                    }
                    while (sem == null && !kind.equals("items") && !kind.equals("multi") && System.nanoTime() < end) {
                        InterProcessMutex m = kind.equals("mutex") ? mutex
                                : kind.equals("mix") && rnd.nextInt(10) == 0 ? rw.writeLock() : rw.readLock();
                        long t0 = System.nanoTime();
                        m.acquire();
                        waits.add((System.nanoTime() - t0) / 1000);
                        m.release();
                    }
                } catch (Exception e) {
                    say("error " + e);
                }
            });
            t.start();
            threads.add(t);
        }
        for (Thread t : threads) t.join();
        say("finished");
        in.readLine(); // "close"
        for (CuratorFramework c : cs) c.close();
        java.util.List<Long> sorted = new java.util.ArrayList<>(waits);
        java.util.Collections.sort(sorted);
        int n = sorted.size();
        long p50 = n == 0 ? 0 : sorted.get(n / 2), p99 = n == 0 ? 0 : sorted.get(Math.min(n - 1, n * 99 / 100));
        return "result " + n + " " + p50 + " " + p99;
    }

    static String benchElect(String connect, String path, int n) throws Exception {
        java.util.List<CuratorFramework> spare = new java.util.ArrayList<>();
        CuratorFramework leaderClient = connect(connect);
        LeaderLatch leader = new LeaderLatch(leaderClient, path);
        leader.start();
        leader.await();
        StringBuilder out = new StringBuilder("elected");
        for (String how : new String[] {"resign", "closed"}) {
            out.append(" ").append(how);
            for (int i = 0; i < n; i++) {
                CuratorFramework nextClient = spare.isEmpty() ? connect(connect) : spare.remove(0);
                LeaderLatch next = new LeaderLatch(nextClient, path);
                java.util.concurrent.CountDownLatch led = new java.util.concurrent.CountDownLatch(1);
                long[] at = new long[1];
                next.addListener(new LeaderLatchListener() {
                    public void isLeader() { at[0] = System.nanoTime(); led.countDown(); }
                    public void notLeader() {}
                });
                next.start();
                while (nextClient.getChildren().forPath(path).size() < 2) { // setup, not measured
                    Thread.sleep(1);
                }
                long t0 = System.nanoTime();
                if (how.equals("resign")) {
                    leader.close();
                    spare.add(leaderClient);
                } else {
                    leaderClient.close();
                }
                if (!led.await(1, TimeUnit.MINUTES)) {
                    throw new Exception("no new leader a minute after " + how);
                }
                out.append(i == 0 ? " " : ",").append((at[0] - t0) / 1000);
                leader = next;
                leaderClient = nextClient;
            }
        }
        leader.close();
        leaderClient.close();
        for (CuratorFramework c : spare) c.close();
        return out.toString();
    }

    // connect starts a client (a session of its own); null if it did not
    // connect within 30 s.
    static CuratorFramework connect(String servers) throws InterruptedException {
        CuratorFramework c = CuratorFrameworkFactory.newClient(servers, 10000, 10000, new RetryNTimes(5, 200));
        c.start();
        return c.blockUntilConnected(30, TimeUnit.SECONDS) ? c : null;
    }

    // token is the czxid of the lock node the mutex holds: our fencing token.
    static long token(CuratorFramework client, InterProcessMutex m) throws Exception {
        for (String p : m.getParticipantNodes()) {
            Stat st = client.checkExists().forPath(p);
            if (st != null && st.getEphemeralOwner() == client.getZookeeperClient().getZooKeeper().getSessionId()) {
                return st.getCzxid();
            }
        }
        return -1;
    }

    static void say(String s) {
        System.out.println(s);
        System.out.flush();
    }
}
