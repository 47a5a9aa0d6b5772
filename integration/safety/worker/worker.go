// Package worker is the worker process of the safety suite: one
// recipes.Session shared by goroutines that take a mutex, an rwlock (read,
// write, downgrade) and an election at once, reporting every grant, loss,
// release and guarded write as a JSON line with a wall-clock timestamp.
// The suite starts it by running its own test binary with Env set.
//
// Commands arrive on stdin, one per line: "freeze" (the process is about
// to be stopped: holders stop where they are, and once an exclusive holder
// has stopped in its hold, or after a while, the worker answers with a
// "frozen" line naming its session), "wake" (it was continued: each
// frozen exclusive holder writes once more as if it still held, marked
// stale, then goes on), "stop" (release everything, close the session and
// exit). End of input is "stop".
package worker

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkrecipes/zkrecipes/integration/safety"
	"github.com/zkrecipes/zkrecipes/leader"
	"github.com/zkrecipes/zkrecipes/lock"
	"github.com/zkrecipes/zkrecipes/recipes"
	"github.com/zkrecipes/zkrecipes/rwlock"
	"github.com/zkrecipes/zkrecipes/semaphore"
)

// Env names the environment variable that holds a worker's Config as JSON.
const Env = "ZKR_SAFETY_WORKER"

// The recipes a worker uses, as named in its messages and in the store.
const (
	Mutex     = "mutex"
	RWLock    = "rwlock"
	Election  = "election"
	Semaphore = "semaphore"
)

// Config is what the suite tells a worker process.
type Config struct {
	ID             int               `json:"id"`      // unique among the run's processes
	Servers        []string          `json:"servers"` // the worker's own proxy
	Store          string            `json:"store"`   // address of the fenced store
	SessionTimeout time.Duration     `json:"sessionTimeout"`
	Paths          map[string]string `json:"paths"`     // recipe → its path
	Registers      map[string]string `json:"registers"` // recipe → register for guarded writes
	Mutexes        int               `json:"mutexes"`   // goroutines on the mutex
	Readers        int               `json:"readers"`   // goroutines taking the read lock
	Writers        int               `json:"writers"`   // goroutines taking the write lock (and downgrading half the time)
	Candidates     int               `json:"candidates"`
	Leases         int               `json:"leases"`    // goroutines taking a lease of the semaphore
	LeaseMax       int               `json:"leaseMax"`  // the semaphore's maximum
	LeaseHold      time.Duration     `json:"leaseHold"` // added to a lease's work, so that leases overlap
	HoldMin        time.Duration     `json:"holdMin"`   // each hold's work lasts between these
	HoldMax        time.Duration     `json:"holdMax"`
	// RogueWriters makes the writers ignore readers, for the suite's
	// negative control: they take a mutex on another path instead of the
	// rwlock's write lock, and report their holds as write holds.
	RogueWriters bool `json:"rogueWriters,omitempty"`
}

// Msg is one line a worker writes. T says what it is:
//
//	session  a Session was made: SID
//	lost     the Session ended: SID, Err
//	grant    a hold was granted: H, G, R, Shared, Token, SID
//	downgrade  write hold H asked to become a read hold at At; the call returned at Ret, OK; Write: still a writer after it
//	untrusted  hold H was lost at At (Err), said the moment the loss is seen
//	end      hold H stopped being trusted at At: Err is the loss seen, or "release"; said after the release
//	gw       guarded write W under hold H begins (R, Token, Stale)
//	gwr      guarded write W returned at At: OK, Unknown (may have been applied), Err
//	refused  an acquire failed with anything but a loss: R, Err
//	frozen   answer to freeze: SID of the Session in use (0 if none), N exclusive holders stopped so far
//	woke     answer to wake
//	exit     the worker is done
type Msg struct {
	T       string `json:"t"`
	At      int64  `json:"at"` // Unix nanoseconds
	SID     int64  `json:"sid,omitempty"`
	H       int64  `json:"h,omitempty"`
	G       int    `json:"g,omitempty"`
	R       string `json:"r,omitempty"`
	Shared  bool   `json:"shared,omitempty"`
	Token   int64  `json:"tok,omitempty"`
	Ret     int64  `json:"ret,omitempty"`
	OK      bool   `json:"ok,omitempty"`
	Write   bool   `json:"write,omitempty"`
	W       int64  `json:"w,omitempty"`
	Unknown bool   `json:"unknown,omitempty"`
	Stale   bool   `json:"stale,omitempty"`
	Err     string `json:"err,omitempty"`
	N       int    `json:"n,omitempty"`
}

// Client returns the store client id of goroutine g of process id.
func Client(id, g int) int { return id*100 + g }

type worker struct {
	cfg   Config
	out   *json.Encoder
	outMu sync.Mutex
	holds atomic.Int64 // hold numbers
	gws   atomic.Int64 // guarded write numbers

	mu      sync.Mutex
	session *recipes.Session
	freezeC chan struct{} // closed when a freeze begins
	wakeC   chan struct{} // closed when it ends
	caught  chan struct{} // told when an exclusive holder stops for the freeze
	frozenN atomic.Int64  // exclusive holders stopped for the current freeze
}

// stopped notes an exclusive holder stopped in its hold for a freeze.
func (w *worker) stopped() {
	w.frozenN.Add(1)
	select {
	case w.caught <- struct{}{}:
	default:
	}
}

func (w *worker) emit(m Msg) {
	if m.At == 0 {
		m.At = time.Now().UnixNano()
	}
	w.outMu.Lock()
	defer w.outMu.Unlock()
	w.out.Encode(m) // a broken pipe kills the process: the suite is gone
}

// pauses returns the channels of the current freeze: the first closes when
// it begins, the second when it ends.
func (w *worker) pauses() (<-chan struct{}, <-chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.freezeC, w.wakeC
}

// Main runs a worker until "stop" or the end of in, writing its lines to
// out.
func Main(cfg Config, in io.Reader, out io.Writer) error {
	w := &worker{cfg: cfg, out: json.NewEncoder(out), freezeC: make(chan struct{}), wakeC: make(chan struct{}),
		caught: make(chan struct{}, 1)}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go func() { // commands
		defer stop()
		defer func() { // no holder stays frozen once the suite is gone
			w.mu.Lock()
			defer w.mu.Unlock()
			select {
			case <-w.freezeC:
				close(w.wakeC)
				w.freezeC, w.wakeC = make(chan struct{}), make(chan struct{})
			default:
			}
		}()
		sc := bufio.NewScanner(in)
		for sc.Scan() {
			switch sc.Text() {
			case "freeze":
				w.mu.Lock()
				select {
				case <-w.freezeC: // frozen already
					w.mu.Unlock()
					continue
				default:
				}
				w.mu.Unlock()
				select { // a holder of the last freeze may have told
				case <-w.caught:
				default:
				}
				w.frozenN.Store(0)
				w.mu.Lock()
				close(w.freezeC)
				var sid int64
				if w.session != nil {
					sid = w.session.ID()
				}
				w.mu.Unlock()
				go func() { // answer once a holder has stopped in its hold
					t := time.NewTimer(2 * time.Second)
					defer t.Stop()
					select {
					case <-w.caught:
					case <-t.C:
					}
					w.emit(Msg{T: "frozen", SID: sid, N: int(w.frozenN.Load())})
				}()
			case "wake":
				w.mu.Lock()
				select {
				case <-w.freezeC:
				default: // not frozen: nothing to wake
					w.mu.Unlock()
					w.emit(Msg{T: "woke"})
					continue
				}
				close(w.wakeC)
				w.freezeC, w.wakeC = make(chan struct{}), make(chan struct{})
				w.mu.Unlock()
				w.emit(Msg{T: "woke"})
			case "stop":
				return
			}
		}
	}()
	quiet := slog.New(slog.DiscardHandler)
	for ctx.Err() == nil {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		s, err := recipes.Connect(cctx, cfg.Servers, recipes.WithSessionTimeout(cfg.SessionTimeout), recipes.WithLogger(quiet),
			recipes.WithIdentity([]byte("safety worker "+strconv.Itoa(cfg.ID))))
		cancel()
		if err != nil {
			continue // cut off: try again
		}
		w.mu.Lock()
		w.session = s
		w.mu.Unlock()
		w.emit(Msg{T: "session", SID: s.ID()})
		err = w.run(ctx, s)
		w.mu.Lock()
		w.session = nil
		w.mu.Unlock()
		cause := s.Err()
		s.Close()
		if cause == nil {
			cause = recipes.ErrSessionClosed
		}
		w.emit(Msg{T: "lost", SID: s.ID(), Err: cause.Error()})
		if err != nil {
			return err
		}
	}
	w.emit(Msg{T: "exit"})
	return nil
}

// run works on s with every goroutine until s is lost or ctx ends.
func (w *worker) run(ctx context.Context, s *recipes.Session) error {
	m, err1 := lock.New(s, w.cfg.Paths[Mutex])
	rw, err2 := rwlock.New(s, w.cfg.Paths[RWLock])
	e, err3 := leader.New(s, w.cfg.Paths[Election])
	sem, err4 := semaphore.New(s, w.cfg.Paths[Semaphore], max(w.cfg.LeaseMax, 1))
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return err
	}
	var wg sync.WaitGroup
	g := 0
	start := func(n int, r string, f func(ctx context.Context, store *safety.StoreClient, g int) error) {
		for range n {
			g++
			g := g
			wg.Go(func() {
				store, err := safety.DialStore(w.cfg.Store)
				if err != nil {
					w.emit(Msg{T: "refused", R: r, Err: err.Error()})
					return
				}
				defer store.Close()
				for s.Err() == nil && ctx.Err() == nil {
					if err := f(ctx, store, g); err != nil && s.Err() == nil && ctx.Err() == nil {
						w.emit(Msg{T: "refused", G: g, R: r, Err: err.Error()})
						w.backoff(ctx)
					}
				}
			})
		}
	}
	start(w.cfg.Mutexes, Mutex, func(ctx context.Context, store *safety.StoreClient, g int) error {
		h, err := m.Lock(ctx)
		if err != nil {
			return ignoreLoss(err)
		}
		w.hold(ctx, s, store, g, Mutex, h.Holding, false, nil, h.Unlock)
		return nil
	})
	start(w.cfg.Readers, RWLock, func(ctx context.Context, store *safety.StoreClient, g int) error {
		h, err := rw.RLock(ctx)
		if err != nil {
			return ignoreLoss(err)
		}
		w.hold(ctx, s, store, g, RWLock, h.Holding, true, h, h.Unlock)
		return nil
	})
	rogue, err := lock.New(s, w.cfg.Paths[RWLock]+"-rogue")
	if err != nil {
		return err
	}
	start(w.cfg.Writers, RWLock, func(ctx context.Context, store *safety.StoreClient, g int) error {
		if w.cfg.RogueWriters {
			h, err := rogue.Lock(ctx)
			if err != nil {
				return ignoreLoss(err)
			}
			w.hold(ctx, s, store, g, RWLock, h.Holding, false, nil, h.Unlock)
			return nil
		}
		h, err := rw.Lock(ctx)
		if err != nil {
			return ignoreLoss(err)
		}
		w.hold(ctx, s, store, g, RWLock, h.Holding, false, h, h.Unlock)
		return nil
	})
	start(w.cfg.Candidates, Election, func(ctx context.Context, store *safety.StoreClient, g int) error {
		l, err := e.Campaign(ctx, []byte("candidate "+strconv.Itoa(Client(w.cfg.ID, g))))
		if err != nil {
			return ignoreLoss(err)
		}
		w.hold(ctx, s, store, g, Election, l.Holding, false, nil, l.Resign)
		return nil
	})
	start(w.cfg.Leases, Semaphore, func(ctx context.Context, store *safety.StoreClient, g int) error {
		l, err := sem.Acquire(ctx)
		if err != nil {
			return ignoreLoss(err)
		}
		w.hold(ctx, s, store, g, Semaphore, l.Holding, true, nil, l.Unlock)
		return nil
	})
	wg.Wait()
	return nil
}

// ignoreLoss keeps the expected failures of an acquire (the session lost,
// the worker stopping) out of the "refused" lines.
func ignoreLoss(err error) error {
	if errors.Is(err, recipes.ErrLost) || errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// backoff waits a little before an acquire that failed at once is tried
// again, so that a refusing recipe does not spin.
func (w *worker) backoff(ctx context.Context) {
	t := time.NewTimer(10 * time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// hold does one hold's work: exclusive holders make a guarded write and a
// fenced store write (shared ones, readers and leases, write nothing); a writer downgrades half the time and holds on as a
// reader. Trust ends at the first of release and loss seen. A holder
// frozen by the suite (the process is about to be stopped) writes once
// more when woken, as if it still held, marked stale.
func (w *worker) hold(ctx context.Context, s *recipes.Session, store *safety.StoreClient, g int, r string,
	h recipes.Holding, shared bool, rw *rwlock.Hold, release func(context.Context) error) {
	n := w.holds.Add(1)
	w.emit(Msg{T: "grant", H: n, G: g, R: r, Shared: shared, Token: h.Token(), SID: s.ID()})
	var (
		mu    sync.Mutex
		endAt time.Time
		cause string
	)
	trustEnds := func(why string) {
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		if endAt.IsZero() {
			endAt, cause = now, why
		}
	}
	stopWatch := context.AfterFunc(h.Context(), func() {
		if err := h.Err(); err != nil && !errors.Is(err, recipes.ErrNotHeld) {
			trustEnds(err.Error())
			// Said at once: the process may be killed before it gets to
			// release and say "end", and trusts nothing after this.
			mu.Lock()
			m := Msg{T: "untrusted", H: n, At: endAt.UnixNano(), Err: cause}
			mu.Unlock()
			w.emit(m)
		}
	})
	defer stopWatch()
	freeze, wake := w.pauses()
	var seen []byte // the register as this holder last read it
	act := func(stale bool) {
		if !stale && h.Err() != nil {
			return // a careful holder stops at once; a paused one cannot
		}
		seen = w.guarded(ctx, s, g, r, n, h, stale, seen)
		store.Write(r, Client(w.cfg.ID, g), h.Token(), stale) // the store records the outcome
	}
	exclusive := !shared
	// work holds for a while, unless the hold is lost first; it reports
	// whether the process was frozen meanwhile (and has been woken).
	work := func() bool {
		d := w.cfg.HoldMin + rand.N(w.cfg.HoldMax-w.cfg.HoldMin+1)
		if r == Semaphore {
			d += w.cfg.LeaseHold
		}
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-h.Done():
		case <-freeze:
			if exclusive {
				w.stopped()
			}
			<-wake
			return true
		}
		return false
	}
	var woken bool
	select {
	case <-freeze: // granted while frozen: it does nothing until woken
		if exclusive {
			w.stopped()
		}
		<-wake
		woken = true
	default:
		if exclusive {
			act(false)
		}
		woken = work()
	}
	if woken && exclusive {
		act(true) // on waking, it writes as if it still held
	}
	if rw != nil && exclusive && !woken && h.Err() == nil && rand.N(2) == 0 {
		call := time.Now()
		dctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		err := rw.Downgrade(dctx)
		cancel()
		m := Msg{T: "downgrade", H: n, At: call.UnixNano(), Ret: time.Now().UnixNano(), OK: err == nil, Write: rw.Write()}
		if err != nil {
			m.Err = err.Error()
		}
		w.emit(m)
		if rw.Write() { // the downgrade failed and the hold says it still writes: it does
			act(false)
		}
		if work() && rw.Write() {
			act(true)
		}
	}
	trustEnds("release")
	mu.Lock()
	m := Msg{T: "end", H: n, At: endAt.UnixNano(), Err: cause}
	mu.Unlock()
	// Said before the release: once the node is deleted the next holder
	// acts, and a process killed before the delete's answer came back
	// would never say it, leaving the suite to end the hold at the kill.
	w.emit(m)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	release(rctx)
	cancel()
}

// guarded increments the recipe's register under the hold's guard: it
// reads the register and writes it back plus one if its version is
// unchanged. A stale holder (woken from a pause) writes as a paused process
// would, without reading again: what it read before the pause plus one, and
// unconditionally, so that only the hold's guard can fence it out. It
// returns the register's value as read.
func (w *worker) guarded(ctx context.Context, s *recipes.Session, g int, r string, n int64,
	h recipes.Holding, stale bool, seen []byte) []byte {
	id := w.gws.Add(1)
	reg := w.cfg.Registers[r]
	w.emit(Msg{T: "gw", W: id, H: n, G: g, R: r, Token: h.Token(), Stale: stale})
	version := int32(-1)
	if !stale || seen == nil {
		data, st, err := s.Conn().Get(reg)
		if err != nil {
			w.emit(Msg{T: "gwr", W: id, Err: "read: " + err.Error()}) // nothing was written
			return seen
		}
		seen, version = data, st.Version
	}
	v, _ := strconv.Atoi(string(seen))
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_, err := h.Multi(wctx, &zk.SetDataRequest{Path: reg, Data: []byte(strconv.Itoa(v + 1)), Version: version})
	m := Msg{T: "gwr", W: id, OK: err == nil}
	if err != nil {
		m.Err = err.Error()
		// Refused by the server (the guard or the version failed), or by
		// the hold before sending: not applied. Anything else may have been.
		m.Unknown = !errors.Is(err, zk.ErrBadVersion) && !errors.Is(err, zk.ErrNoNode) && !errors.Is(err, recipes.ErrNodeDeleted)
	}
	w.emit(m)
	return seen
}
