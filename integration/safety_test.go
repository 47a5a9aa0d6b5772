package integration_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/integration/safety"
	"github.com/zkrecipes/zkrecipes/integration/zktest"
	"github.com/zkrecipes/zkrecipes/lock"
	"github.com/zkrecipes/zkrecipes/recipes"
)

// safetySessionTimeout is the workers' session timeout: faults that cut a
// client off last longer than this, so that its session expires.
const safetySessionTimeout = 1500 * time.Millisecond

// worker contends for the lock through a proxy of its own, and does a
// guarded increment and a fenced store write in each hold.
type worker struct {
	id      int
	proxy   *zktest.Proxy
	freeze  chan chan struct{} // the nemesis pauses the worker inside its hold
	history *safety.History
	store   *safety.Store

	mu       sync.Mutex
	session  *recipes.Session
	holding  bool
	grants   int
	returned time.Time           // last return from Lock, for liveness after heal
	expired  map[int64]time.Time // sessions the nemesis expired, and when
}

func (w *worker) run(ctx context.Context, t *testing.T, c *zktest.Cluster, path, register string, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		s, err := recipes.Connect(cctx, w.proxy.Servers(), recipes.WithSessionTimeout(safetySessionTimeout),
			recipes.WithLogger(quietLogger))
		cancel()
		if err != nil {
			continue // cut off: try again
		}
		w.mu.Lock()
		w.session = s
		w.mu.Unlock()
		m, err := lock.New(s, path)
		require.NoError(t, err)
		for s.Err() == nil {
			h, err := m.Lock(ctx)
			w.mu.Lock()
			w.returned = time.Now()
			w.mu.Unlock()
			if err != nil {
				break
			}
			w.hold(ctx, s, h, register)
			select {
			case <-stop:
				s.Close()
				return
			default:
			}
		}
		s.Close()
	}
}

func (w *worker) hold(ctx context.Context, s *recipes.Session, h *lock.Hold, register string) {
	start := time.Now()
	var mu sync.Mutex
	end := time.Time{}
	trustEnds := func(at time.Time) {
		mu.Lock()
		defer mu.Unlock()
		if end.IsZero() || at.Before(end) {
			end = at
		}
	}
	stopWatch := context.AfterFunc(h.Context(), func() { trustEnds(time.Now()) })
	defer stopWatch()
	w.mu.Lock()
	w.holding, w.grants = true, w.grants+1
	w.mu.Unlock()

	stale := false
	act := func() {
		if !stale && h.Err() != nil {
			return // a careful holder stops at once; a paused one cannot
		}
		w.guardedIncrement(ctx, s, h, register, stale)
		from := time.Now()
		ok := w.store.Write(h.Token())
		w.history.Add(safety.Event{Client: w.id, Kind: safety.StoreWrite, Token: h.Token(), From: from, To: time.Now(), OK: ok, Stale: stale})
	}
	act()
	select {
	case resume := <-w.freeze: // paused like a process under SIGSTOP
		trustEnds(time.Now())
		<-resume
		stale = true
		act() // on waking, it writes as if it still held the lock
	case <-time.After(20 * time.Millisecond): // the hold's work
	}
	trustEnds(time.Now())
	w.mu.Lock()
	w.holding = false
	if at, ok := w.expired[s.ID()]; ok {
		// Expired by an operator: the server deletes the node and tells
		// the next waiter at once, before this client can hear of it, as
		// with a pause; no hold is trusted past that (fencing covers it).
		trustEnds(at)
	}
	w.mu.Unlock()
	h.Unlock(context.WithoutCancel(ctx))
	mu.Lock()
	w.history.Add(safety.Event{Client: w.id, Kind: safety.Hold, Token: h.Token(), From: start, To: end})
	mu.Unlock()
}

func (w *worker) guardedIncrement(ctx context.Context, s *recipes.Session, h *lock.Hold, register string, stale bool) {
	from := time.Now()
	data, st, err := s.Conn().Get(register)
	ok, unknown := false, false
	if err == nil {
		n, _ := strconv.Atoi(string(data))
		_, err = h.Multi(ctx, &zk.SetDataRequest{Path: register, Data: []byte(strconv.Itoa(n + 1)), Version: st.Version})
		ok = err == nil
		unknown = recipes.Retryable(err) // the connection dropped with the write in flight
	}
	w.history.Add(safety.Event{Client: w.id, Kind: safety.GuardedWrite, Token: h.Token(), From: from, To: time.Now(),
		OK: ok, Unknown: unknown, Stale: stale})
}

// TestLockSafetyUnderFaults runs the workload on a 3-node ensemble while a
// nemesis kills the ensemble leader, pauses and isolates members,
// black-holes and pauses clients and expires sessions; then checks the
// history. ZKR_SAFETY_DURATION sets how long the faults go on (default 40s).
func TestLockSafetyUnderFaults(t *testing.T) {
	duration := 40 * time.Second
	if d, err := time.ParseDuration(os.Getenv("ZKR_SAFETY_DURATION")); err == nil {
		duration = d
	}
	c := zktest.Start(t, zktest.WithEnsemble(3))
	ctx := ctxFor(t, duration+5*time.Minute)
	const path, register = "/safety/lock", "/safety-register"
	admin, err := recipes.Connect(ctx, c.Servers())
	require.NoError(t, err)
	defer admin.Close()
	_, err = admin.Conn().Create(register, []byte("0"), 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)

	history, store := &safety.History{}, safety.NewStore(true)
	var workers []*worker
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 4 {
		p, err := c.NewProxy()
		require.NoError(t, err)
		w := &worker{id: i, proxy: p, freeze: make(chan chan struct{}), history: history, store: store}
		workers = append(workers, w)
		wg.Go(func() { w.run(ctx, t, c, path, register, stop) })
	}

	faults := nemesis(ctx, t, c, workers, duration)

	// Heal everything, then every worker must get back out of Lock.
	healed := time.Now()
	for _, w := range workers {
		w.proxy.Heal()
	}
	for _, m := range c.Members() {
		m.Unpause(ctx)
		m.Reconnect(ctx)
		m.Start(ctx)
	}
	require.NoError(t, c.WaitServing(ctx))
	var longest time.Duration
	for _, w := range workers {
		require.NoError(t, waitForCtx(ctx, 30*time.Second, func() bool {
			w.mu.Lock()
			defer w.mu.Unlock()
			return w.returned.After(healed)
		}), "worker %d still blocked 30s after the faults healed", w.id)
		w.mu.Lock()
		longest = max(longest, w.returned.Sub(healed))
		w.mu.Unlock()
	}
	close(stop)
	wg.Wait()

	// No node left once every client has closed.
	require.NoError(t, waitForCtx(ctx, 30*time.Second, func() bool {
		cs, _, err := admin.Conn().Children(path)
		return errors.Is(err, zk.ErrNoNode) || (err == nil && len(cs) == 0)
	}), "lock nodes leaked")

	report := safety.Check(history.Events())
	data, _, err := admin.Conn().Get(register)
	require.NoError(t, err)
	grants := 0
	for _, w := range workers {
		grants += w.grants
	}
	t.Logf("grants %d, faults %v, violations %d (overlaps %d, token order %d, store linearizable %v, stale guarded acks %d), "+
		"stale store writes accepted %d, guarded acks %d (+%d unknown) vs register %s, leaked nodes 0, longest wake-up after heal %v",
		grants, faults, report.Violations(), len(report.Overlaps), len(report.TokenOrder), report.StoreLinearizable,
		report.StaleGuardedAcked, report.StaleAccepted, report.GuardedAcks, report.GuardedUnknown, data, longest)
	if report.Violations() > 0 {
		keepArtifact(t, report, "safety-store.html")
	}
	assert.Empty(t, report.Overlaps)
	assert.Empty(t, report.TokenOrder)
	assert.True(t, report.StoreLinearizable, "the fenced store accepted a stale token")
	assert.Zero(t, report.StaleGuardedAcked, "a stale holder's guarded write was applied")
	// Every acknowledged guarded write is in the register, and nothing
	// else is but writes whose reply was lost.
	applied, err := strconv.Atoi(string(data))
	require.NoError(t, err)
	assert.GreaterOrEqual(t, applied, report.GuardedAcks, "an acknowledged guarded write is missing")
	assert.LessOrEqual(t, applied, report.GuardedAcks+report.GuardedUnknown, "a guarded write nobody may have made was applied")
	assert.Positive(t, grants)
}

// nemesis injects faults, one kind after another, until duration has
// passed, and returns how many of each it injected.
func nemesis(ctx context.Context, t *testing.T, c *zktest.Cluster, workers []*worker, duration time.Duration) map[string]int {
	faults := map[string]int{}
	note := func(kind string) { // the log says when, to match with a violation
		faults[kind]++
		t.Logf("%s %s", time.Now().Format("15:04:05.000"), kind)
	}
	end := time.Now().Add(duration)
	holder := func() *worker { // whoever holds, or after 2 s anyone
		found := workers[0]
		waitForCtx(ctx, 2*time.Second, func() bool {
			for _, w := range workers {
				w.mu.Lock()
				h := w.holding
				w.mu.Unlock()
				if h {
					found = w
					return true
				}
			}
			return false
		})
		return found
	}
	hold := func(d time.Duration) { time.Sleep(d) } // a fault lasts this long
	for i := 0; time.Now().Before(end); i++ {
		switch i % 6 {
		case 0:
			if m, err := c.Leader(ctx); err == nil {
				note("kill ensemble leader")
				m.Kill(ctx)
				hold(time.Second)
				m.Start(ctx)
				c.WaitServing(ctx)
			}
		case 1:
			note("pause member")
			m := c.Members()[i%3]
			m.Pause(ctx)
			hold(2 * time.Second)
			m.Unpause(ctx)
		case 2:
			note("isolate member")
			m := c.Members()[(i+1)%3]
			m.Disconnect(ctx)
			hold(2 * time.Second)
			m.Reconnect(ctx)
			c.WaitServing(ctx)
		case 3:
			note("black-hole client")
			w := holder()
			w.proxy.Blackhole()
			hold(2 * safetySessionTimeout)
			w.proxy.Heal()
		case 4:
			w := holder()
			resume := make(chan struct{})
			select {
			case w.freeze <- resume:
				note("pause client in its hold")
				w.proxy.Blackhole() // a stopped process sends nothing
				hold(2 * safetySessionTimeout)
				w.proxy.Heal()
				close(resume)
			case <-time.After(time.Second):
			}
		case 5:
			w := holder()
			w.mu.Lock()
			s := w.session
			if s != nil {
				if w.expired == nil {
					w.expired = map[int64]time.Time{}
				}
				w.expired[s.ID()] = time.Now()
			}
			w.mu.Unlock()
			if s != nil && c.ExpireSession(ctx, s.ID()) == nil {
				note("expire session")
			}
		}
		hold(300 * time.Millisecond)
	}
	return faults
}

// TestCheckerCatchesAnUnfencedWriterAfterAPause is the negative control: a
// holder paused past its session timeout wakes up and writes to a store
// that does not check tokens, after the next holder wrote; the checker must
// flag the history.
func TestCheckerCatchesAnUnfencedWriterAfterAPause(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	const path = "/safety/negative-control"
	history, store := &safety.History{}, safety.NewStore(false)
	p, err := cluster.NewProxy()
	require.NoError(t, err)
	paused, err := recipes.Connect(ctx, p.Servers(), recipes.WithSessionTimeout(time.Second), recipes.WithLogger(quietLogger))
	require.NoError(t, err)
	defer paused.Close()
	m1, err := lock.New(paused, path)
	require.NoError(t, err)
	m2, err := lock.New(session(t), path)
	require.NoError(t, err)
	write := func(client int, token int64) {
		from := time.Now()
		ok := store.Write(token)
		history.Add(safety.Event{Client: client, Kind: safety.StoreWrite, Token: token, From: from, To: time.Now(), OK: ok, Stale: client == 1})
	}

	old, err := m1.Lock(ctx)
	require.NoError(t, err)
	write(1, old.Token())
	p.Blackhole() // the process stops; its session will expire
	next, err := m2.Lock(ctx)
	require.NoError(t, err)
	write(2, next.Token())
	p.Heal()
	write(1, old.Token()) // woken, it writes with its old token, unchecked
	require.NoError(t, next.Unlock(ctx))

	report := safety.Check(history.Events())
	assert.False(t, report.StoreLinearizable, "the checker accepted a stale write to an unfenced store")
	keepArtifact(t, report, "negative-control-store.html")

	// The same history against a fenced store passes.
	fenced := safety.NewStore(true)
	assert.True(t, fenced.Write(old.Token()))
	assert.True(t, fenced.Write(next.Token()))
	assert.False(t, fenced.Write(old.Token()), "a fenced store accepted a stale token")
}

// keepArtifact writes porcupine's view of a failing history under
// ZKR_ARTIFACTS (default: artifacts/ beside this package).
func keepArtifact(t *testing.T, r safety.Report, name string) {
	t.Helper()
	dir := os.Getenv("ZKR_ARTIFACTS")
	if dir == "" {
		dir = "artifacts"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Logf("artifact: %v", err)
		return
	}
	p := filepath.Join(dir, name)
	if err := r.VisualizeStore(p); err != nil {
		t.Logf("artifact: %v", err)
		return
	}
	t.Logf("history kept in %s", p)
}

func waitForCtx(ctx context.Context, limit time.Duration, cond func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}
