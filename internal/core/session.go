package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
)

// State is what a [Session] knows about its ZooKeeper session.
type State int

const (
	// StateConnecting: the session is not established yet.
	StateConnecting State = iota
	// StateConnected: the session is established and the connection is up.
	StateConnected
	// StateSuspended: the connection dropped; the session may still live.
	StateSuspended
	// StateLost: the session expired or was replaced by a new one. Final.
	StateLost
	// StateClosed: Close was called. Final.
	StateClosed
)

func (s State) String() string {
	switch s {
	case StateConnecting:
		return "connecting"
	case StateConnected:
		return "connected"
	case StateSuspended:
		return "suspended"
	case StateLost:
		return "lost"
	case StateClosed:
		return "closed"
	}
	return "unknown"
}

// Session is the implementation of recipes.Session, whose doc says what
// it promises. It follows one ZooKeeper session through the connection's
// state, and once that session is lost (or the Session closed) ends every
// hold made through it.
type Session struct {
	conn  atomic.Pointer[zk.Conn]
	owned bool
	tap   *createTap // nil for a connection we did not dial
	cfg   Config
	log   *slog.Logger
	tel   *telemetry
	// containers counts CreateContainer calls in flight (see closeConn)
	containers atomic.Int32

	ctx    context.Context // cancelled when the session is lost or closed
	cancel context.CancelCauseFunc
	stop   chan struct{} // stops the poller and the followers
	wg     sync.WaitGroup
	once   sync.Once
	// idle hands Go's functions to goroutines that ran one before (see
	// work); idlers counts those waiting
	idle   chan func()
	idlers atomic.Int32

	followers followers // the watches on our nodes (NewSession's; see follow)
	listers   listers   // listings of queues in flight, shared by their waiters

	mu          sync.Mutex
	id          int64
	state       State
	closing     bool          // Close has begun: no acquisition starts; a grant is born lost
	suspended   time.Time     // when the current suspension began
	suspensions int           // how many began: a tolerance timer acts only on its own
	changed     chan struct{} // closed and replaced on every change of state
	// tolerance ends the holds when a tolerated suspension has lasted too
	// long (see toleratedUntil)
	tolerance *time.Timer
	// nodes routes the events on our nodes to their holds, by path: the
	// pending holds of waiting contenders, and granted holds until they are
	// released; on a change of state the Session ends the granted ones
	// itself. Neither costs a hold a goroutine.
	nodes    map[string]*Hold
	cleaning int           // background cleanups running
	cleaned  chan struct{} // closed when cleaning drops to 0
	// Our nodes that may exist on a connection we did not make (see
	// sweep.go), by name or, for a sequential node, the name it was created
	// with.
	mine map[string]*ours
	// Nodes that creates of ours made under the session go-zookeeper opened
	// in place of ours, by path, with that session's id, until deleted (see
	// madeUnderOurs).
	strays map[string]int64
	// Ephemeral names whose create a CreateEphemeral that failed left
	// unknown: the node may be there, ours, until the cleanup deletes it
	// or a later CreateEphemeral of the name takes it up. The cleanup's
	// deletion and a later call's taking up go one at a time (ghosts), so
	// that the cleanup never deletes a node taken up.
	doubtful map[string]bool
	ghosts   Turn
}

func newSession(cfg Config) *Session {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	return &Session{
		cfg: cfg, log: cfg.Logger, tel: newTelemetry(cfg), ctx: ctx, cancel: cancel,
		stop: make(chan struct{}), changed: make(chan struct{}), idle: make(chan func()),
		nodes: make(map[string]*Hold), mine: make(map[string]*ours),
		strays: make(map[string]int64), doubtful: make(map[string]bool),
	}
}

// Connect dials servers through a create tap and blocks until the
// session is established; see recipes.Connect. The Session owns the
// connection: it closes it the moment its session is lost.
func Connect(ctx context.Context, servers []string, cfg Config) (*Session, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := cfg.check(); err != nil {
		return nil, err
	}
	s := newSession(cfg)
	s.tap = &createTap{base: cfg.Dial, tls: cfg.TLS}
	s.owned = true // before any event can come
	var hosts zk.HostProvider = &zk.DNSHostProvider{}
	if cfg.TLS != nil || cfg.Dial != nil {
		// The dialer gets the host named: TLS verifies it, and the
		// application's dialer may resolve it its own way.
		hosts = &configuredHosts{}
	}
	conn, _, err := zk.Connect(servers, s.cfg.Timeout,
		zk.WithLogger(zkLogger{s.log}), zk.WithLogInfo(false),
		zk.WithEventCallback(s.onEvent), zk.WithDialer(s.tap.dial), zk.WithHostProvider(hosts))
	if err != nil {
		return nil, fmt.Errorf("zkrecipes: connect %v: %w", servers, err)
	}
	s.conn.Store(conn)
	// Events may have come before the Conn was stored; catch up.
	s.observe(conn.State(), conn.SessionID())
	if err := s.start(ctx); err != nil {
		s.Close()
		if derr := s.tap.lastDialErr(); derr != nil {
			err = fmt.Errorf("%w (the last connection attempt: %w)", err, derr)
		}
		return nil, err
	}
	return s, nil
}

// NewSession follows the session of a connection the application made,
// by polling its state every cfg.PollInterval; see recipes.NewSession.
// Nodes of ours that may exist under a later session of conn are tracked
// and swept (sweep.go).
func NewSession(ctx context.Context, conn *zk.Conn, cfg Config) (*Session, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if conn == nil {
		return nil, errors.New("zkrecipes: NewSession: nil connection")
	}
	if err := cfg.check(); err != nil {
		return nil, err
	}
	s := newSession(cfg)
	if s.cfg.TolerateSuspension && !s.cfg.TimeoutSet {
		return nil, errors.New("zkrecipes: NewSession with WithTolerateSuspension needs WithSessionTimeout (the connection's session timeout)")
	}
	s.conn.Store(conn)
	s.wg.Go(s.poll)
	if err := s.start(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Session) start(ctx context.Context) error {
	if err := s.waitConnected(ctx); err != nil {
		return fmt.Errorf("zkrecipes: establish session: %w", err)
	}
	for _, a := range s.cfg.Auth {
		if _, err := call(ctx, s, func() (struct{}, error) {
			return struct{}{}, s.Conn().AddAuth(a.Scheme, a.Data)
		}); err != nil {
			return fmt.Errorf("zkrecipes: add %s auth: %w", a.Scheme, err)
		}
	}
	return nil
}

// Conn returns the underlying connection, for plain ZooKeeper calls.
func (s *Session) Conn() *zk.Conn { return s.conn.Load() }

// ID returns the ZooKeeper session id this Session follows.
func (s *Session) ID() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.id
}

// State returns the session's current state.
func (s *Session) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

// Done returns a channel closed when the session is lost or closed.
func (s *Session) Done() <-chan struct{} { return s.ctx.Done() }

// Err returns nil while the session lives, then ErrSessionLost or
// ErrSessionClosed.
func (s *Session) Err() error { return context.Cause(s.ctx) }

// Close releases every hold, ends the session if Connect made it, and
// waits for the Session's goroutines; see recipes.Session.Close. On a
// connection the Session did not make, it also waits for cleanups and
// sweeps our nodes, each step for up to the session timeout.
func (s *Session) Close() error {
	var err error
	s.once.Do(func() {
		s.mu.Lock()
		s.closing = true
		s.mu.Unlock()
		if !s.owned {
			// The connection lives on, so release explicitly, and give
			// cleanups of cancelled acquisitions a chance to finish.
			err = s.releaseAll()
			s.waitCleanups(s.cfg.Timeout)
		}
		s.mu.Lock()
		s.terminate(StateClosed, ErrSessionClosed)
		s.mu.Unlock()
		if !s.owned {
			// Waiting contenders have given up (the session is closed);
			// delete what they and any cleanup left, whatever session now
			// owns it.
			s.sweepFor(s.cfg.Timeout)
		}
		close(s.stop)
		if s.owned {
			s.closeConn()
		}
		s.wg.Wait()
		if !s.owned && len(s.tracked()) > 0 {
			// Creates answered after the sweep gave up made these.
			s.sweepFor(s.cfg.Timeout)
			s.wg.Wait()
		}
	})
	return err
}

func (s *Session) releaseAll() error {
	s.mu.Lock()
	holds := s.grantedHolds()
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.Timeout)
	defer cancel()
	var errs []error
	for _, h := range holds {
		if err := h.Release(ctx); err != nil && !errors.Is(err, ErrNotHeld) && !errors.Is(err, ErrLost) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// waitCleanups waits until no background cleanup is running, or limit.
func (s *Session) waitCleanups(limit time.Duration) {
	s.mu.Lock()
	done := s.cleaned
	s.mu.Unlock()
	if done == nil {
		return
	}
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

// grantedHolds lists the granted holds not yet released; called with s.mu
// held.
func (s *Session) grantedHolds() []*Hold {
	var hs []*Hold
	for _, h := range s.nodes {
		if h.granted {
			hs = append(hs, h)
		}
	}
	return hs
}

// onEvent receives go-zookeeper's events synchronously: never dropped, and
// the watches' events in the order they came (on its receiving goroutine;
// state changes come from its connecting one too). It must not block.
func (s *Session) onEvent(ev zk.Event) {
	if ev.Type != zk.EventSession {
		s.nodeEvent(ev)
		return
	}
	var sid int64
	if c := s.conn.Load(); c != nil {
		sid = c.SessionID()
	}
	s.observe(ev.State, sid)
}

// nodeEvent routes a watch's event to the hold of the node, if it is one
// of ours. A Session made by Connect gets every event through onEvent; one
// made by NewSession, through the watches it follows (see follow).
func (s *Session) nodeEvent(ev zk.Event) {
	if ev.Type != zk.EventNodeDeleted && ev.Type != zk.EventNodeDataChanged {
		return // EventNotWatching: the session's state says what it means
	}
	s.mu.Lock()
	h := s.nodes[ev.Path]
	if s.state == StateLost || s.state == StateClosed {
		// The session's end ends every hold with its own cause (see
		// terminate), though the server's deletion of our nodes at a
		// Close may be heard before that is done.
		h = nil
	}
	s.mu.Unlock()
	if h != nil {
		h.event(ev)
	}
}

func (s *Session) poll() {
	t := time.NewTicker(s.cfg.PollInterval)
	defer t.Stop()
	for {
		c := s.Conn()
		s.observe(c.State(), c.SessionID())
		select {
		case <-t.C:
		case <-s.stop:
			return
		}
	}
}

// observe folds one reading of the connection into the session's state.
func (s *Session) observe(zs zk.State, sid int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == StateLost || s.state == StateClosed {
		return
	}
	switch {
	case s.id == 0:
		if zs == zk.StateHasSession && sid != 0 {
			s.id = sid
			s.setState(StateConnected)
		}
	case zs == zk.StateExpired:
		s.terminate(StateLost, ErrSessionLost)
	case sid != 0 && sid != s.id:
		// go-zookeeper replaced the expired session without a word.
		s.terminate(StateLost, ErrSessionLost)
	case zs == zk.StateHasSession:
		s.setState(StateConnected)
	case zs == zk.StateDisconnected, zs == zk.StateConnecting, zs == zk.StateConnected, zs == zk.StateAuthFailed:
		if s.state == StateConnected {
			s.setState(StateSuspended)
		}
	}
}

// noteExpired is called when a request reports the session expired, which
// can be before the connection's state says so.
func (s *Session) noteExpired(err error) {
	if errors.Is(err, zk.ErrSessionExpired) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.state != StateClosed {
			s.terminate(StateLost, ErrSessionLost)
		}
	}
}

// setState and terminate are called with s.mu held.
func (s *Session) setState(st State) {
	if s.state == st {
		return
	}
	s.log.Debug("zkrecipes: session state", "session", fmt.Sprintf("0x%x", s.id), "from", s.state, "to", st)
	if s.tolerance != nil {
		s.tolerance.Stop()
		s.tolerance = nil
	}
	if st == StateSuspended {
		s.suspended = time.Now()
		s.suspensions++
	}
	s.state = st
	s.tel.stateChanged(st)
	close(s.changed)
	s.changed = make(chan struct{})
	cause := s.holdsEnd()
	switch {
	case st != StateSuspended: // a final state's holds are ended by terminate
	case cause != nil:
		s.endHolds(cause)
	default:
		count := s.suspensions
		s.tolerance = time.AfterFunc(time.Until(s.toleratedUntil(s.suspended)), func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.state == StateSuspended && s.suspensions == count {
				s.endHolds(s.intolerable())
			}
		})
	}
}

// endHolds ends every granted hold with cause, in the background: there
// may be many, and this runs with s.mu held, maybe on go-zookeeper's
// receiving goroutine. Holds granted later see the state themselves (see
// Hold.grant).
func (s *Session) endHolds(cause error) {
	holds := s.grantedHolds()
	if len(holds) == 0 {
		return
	}
	s.wg.Go(func() {
		for _, h := range holds {
			h.End(cause)
		}
	})
}

// holdsEnd says why the Session's state ends its holds now, or nil;
// called with s.mu held. A lost or closed Session ends them all; so does a
// suspension, unless tolerated, and then once it has lasted too long (see
// toleratedUntil). Holds granted before a change of state are ended by it
// (setState, terminate); one granted after asks this itself.
func (s *Session) holdsEnd() error {
	switch {
	case s.state == StateLost, s.state == StateClosed:
		return s.Err()
	case s.closing:
		return ErrSessionClosed
	case s.state != StateSuspended:
		return nil
	case !s.cfg.TolerateSuspension:
		return ErrSuspended
	case !time.Now().Before(s.toleratedUntil(s.suspended)):
		return s.intolerable()
	}
	return nil
}

// intolerable is why a tolerated suspension ends the holds.
func (s *Session) intolerable() error {
	return fmt.Errorf("%w for as long as the server may keep the session (%v)", ErrSuspended, s.SessionTimeout())
}

func (s *Session) terminate(st State, cause error) {
	if s.state == StateLost || s.state == StateClosed {
		return
	}
	if st == StateLost {
		s.log.Warn("zkrecipes: session lost", "session", fmt.Sprintf("0x%x", s.id))
	}
	s.setState(st)
	s.cancel(cause)
	s.endHolds(cause)
	switch {
	case st == StateLost && s.owned:
		s.tap.kill() // before go-zookeeper's next dial
		// A lost session is dead: close the connection now, so that
		// nothing queued runs under a session go-zookeeper would open in
		// its place. Close blocks, and this may run on go-zookeeper's
		// event goroutine, so it runs on its own.
		s.wg.Go(s.closeConn)
	case st == StateLost:
		// The application's connection goes on under another session, and
		// requests queued across the loss may have made nodes under it.
		s.wg.Go(func() { s.sweepUntil(s.stop) })
	}
}

// closeConn closes a connection the Session made; the tap refuses any
// handshake from then on, even one already under way, and then closes the
// network connection under go-zookeeper (see createTap.hangUp).
//
// It first waits, a second at most, for CreateContainer calls in flight:
// go-zookeeper's CreateContainer (unlike Create) reads its reply after a
// request that Close ended, while the receiving goroutine may still be
// writing it, a data race that the race detector reports. Answered, or
// ended by the connection's own loss, they race with nothing.
func (s *Session) closeConn() {
	s.tap.kill()
	for wait := time.Now().Add(time.Second); s.containers.Load() > 0 && time.Now().Before(wait); {
		time.Sleep(time.Millisecond)
	}
	s.Conn().Close()
	s.tap.hangUp()
}

// SessionTimeout returns the session timeout the server granted, or, where
// the Session cannot see the handshake, the one it was given.
func (s *Session) SessionTimeout() time.Duration {
	if s.tap != nil {
		if d := s.tap.negotiated(); d > 0 {
			return d
		}
	}
	return s.cfg.Timeout
}

// toleratedUntil returns when a tolerated suspension that began at since
// ends a hold: a tenth of the session timeout before the timeout has
// passed since the server was last heard from, which is when the server
// may expire the session at the earliest (it times from the last request
// it received, which it answered at once). A Session made by Connect
// sees every byte the server sends; one made by NewSession counts from
// since, when it noticed the suspension, up to one poll interval and two
// thirds of the timeout (go-zookeeper's read timeout) after the server
// went quiet, so fencing covers that much.
func (s *Session) toleratedUntil(since time.Time) time.Time {
	from := since
	if s.tap != nil {
		if at := s.tap.heardAt(); !at.IsZero() && at.Before(since) {
			from = at
		}
	}
	d := s.SessionTimeout()
	return from.Add(d - d/10)
}

// watch returns the current state and a channel closed at the next change.
func (s *Session) watch() (State, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state, s.changed
}

// waitConnected blocks until the session is connected, lost or closed, or
// ctx ends.
func (s *Session) waitConnected(ctx context.Context) error {
	for {
		st, changed := s.watch()
		switch st {
		case StateConnected:
			return nil
		case StateLost, StateClosed:
			return s.Err()
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Go runs f in a goroutine that Close waits for, so that none of the
// Session's or a recipe's outlives it; f must return once the Session is
// done. If the session has ended already, f does not run, and Go returns
// false. The goroutine may have run functions before (see work), so f
// must leave no state on it (a locked OS thread), and runs with no
// profiler labels unless the goroutine is new (then its caller's).
func (s *Session) Go(f func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == StateClosed || s.state == StateLost {
		return false
	}
	select {
	case s.idle <- f: // taken by a goroutine waiting in work
	default:
		s.wg.Go(func() { s.work(f) })
	}
	return true
}

// maxIdle is how many of a Session's goroutines wait for Go's next
// function once they have run one.
const maxIdle = 16

// work runs f, and then the functions Go hands it, while no more than
// maxIdle others wait, until the session ends. Most of Go's functions send
// one request and wait for its reply; that grows a new goroutine's stack,
// and growing (copying) it again for every request took a tenth of a busy
// client's CPU. A goroutine kept grows it rarely.
func (s *Session) work(f func()) {
	for {
		f()
		if s.idlers.Add(1) > maxIdle {
			s.idlers.Add(-1)
			return
		}
		select {
		case f = <-s.idle:
			s.idlers.Add(-1)
			// Not the labels of the caller that started this goroutine.
			pprof.SetGoroutineLabels(context.Background())
		case <-s.ctx.Done():
			s.idlers.Add(-1)
			return
		}
	}
}

// accepting returns nil while the Session takes new acquisitions: not once
// it has ended, nor once Close has begun.
func (s *Session) accepting() error {
	if err := s.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return ErrSessionClosed
	}
	return nil
}

// Cleanup retries task in the background, through connection loss, until
// it succeeds, fails for good, or the session ends (after which the server,
// or the sweep of a Session over the application's connection, deletes
// what is left): for what must not be left behind once a call has
// returned.
func (s *Session) Cleanup(what string, task func(ctx context.Context) error) {
	s.mu.Lock()
	if s.cleaning == 0 {
		s.cleaned = make(chan struct{})
	}
	s.cleaning++
	s.mu.Unlock()
	if !s.Go(func() { defer s.cleanedOne(); s.retry(s.ctx, what, task) }) {
		s.cleanedOne()
	}
}

func (s *Session) cleanedOne() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cleaning--; s.cleaning == 0 {
		close(s.cleaned)
		s.cleaned = nil
	}
}

// retry runs task until it succeeds or fails with an error that
// reconnecting will not cure.
func (s *Session) retry(ctx context.Context, what string, task func(ctx context.Context) error) error {
	for backoff := 10 * time.Millisecond; ; backoff = min(2*backoff, time.Second) {
		if err := s.waitConnected(ctx); err != nil {
			return err
		}
		err := task(ctx)
		if err == nil || !retryable(err) {
			return err
		}
		s.log.Debug("zkrecipes: retrying", "what", what, "err", err)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// wokeAt tells when, less than a session timeout ago, the server's bytes
// reached a Session made by Connect after a silence that a live session
// does not allow (0: they did not): the process was stopped (SIGSTOP, a
// long pause), and what they told may have been sent before the session
// expired. A request sent after that is answered by a later read.
func (s *Session) wokeAt() int64 {
	if s.tap == nil {
		return 0
	}
	return s.tap.wokeAt()
}

// retryable reports whether an error means the outcome is unknown and the
// request may be tried again once the connection is back. go-zookeeper
// answers a request whose write failed with the write's own error (a
// *net.OpError: a broken pipe, a timeout), and reconnects.
func retryable(err error) bool {
	if err == nil {
		return false // and allocates no target for errors.As: most calls
	}
	var op *net.OpError
	return errors.Is(err, zk.ErrConnectionClosed) || errors.Is(err, zk.ErrNoServer) ||
		errors.Is(err, zk.ErrSessionMoved) || errors.As(err, &op)
}

// call runs a go-zookeeper request, which takes no context, and returns
// when it does or when ctx ends. An abandoned request finishes in the
// background: go-zookeeper answers every request (reply, connection loss or
// close), and Close waits for it.
func call[T any](ctx context.Context, s *Session, f func() (T, error)) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	if !s.Go(func() { v, err := f(); ch <- result{v, err} }) {
		return zero, s.Err()
	}
	select {
	case r := <-ch:
		s.noteExpired(r.err)
		return r.v, s.explain(r.err)
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

// explain adds the session's end to a request's error once the session has
// ended: a request failed by the closing of a lost session's connection
// then matches ErrLost.
func (s *Session) explain(err error) error {
	if err == nil {
		return nil
	}
	if lost := s.Err(); lost != nil && !errors.Is(err, ErrLost) {
		return fmt.Errorf("%w: %w", lost, err)
	}
	return err
}

// zkLogger sends go-zookeeper's log lines to slog at debug level.
type zkLogger struct{ l *slog.Logger }

func (z zkLogger) Printf(format string, args ...any) {
	z.l.Debug("zk: " + fmt.Sprintf(format, args...))
}

// abandon deletes the node of an acquisition that failed, waiting up to a
// second (for the connection to come back, if it is down), then in the
// background.
func (s *Session) abandon(path string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	s.deleteNode(ctx, path)
}

// Call runs f, one go-zookeeper request on the session's connection, and
// returns when it does or when ctx ends; recipes use it because
// go-zookeeper's calls take no context. An abandoned request finishes in
// the background (go-zookeeper answers every request: reply, connection
// loss or close) and Close waits for it. An answer that the session
// expired marks the Session lost at once.
func Call[T any](ctx context.Context, s *Session, f func(conn *zk.Conn) (T, error)) (T, error) {
	return call(ctx, s, func() (T, error) { return f(s.Conn()) })
}

// CreateParents creates p and its missing ancestors as CONTAINER nodes,
// which the server deletes once they are empty, retrying through
// connection loss until ctx ends.
func (s *Session) CreateParents(ctx context.Context, p string) error {
	return s.retry(ctx, "create "+p, func(ctx context.Context) error {
		create := func() (string, error) {
			s.containers.Add(1) // see closeConn
			defer s.containers.Add(-1)
			return s.Conn().CreateContainer(p, nil, zk.FlagContainer, s.cfg.ACL)
		}
		_, err := call(ctx, s, create)
		if errors.Is(err, zk.ErrNoNode) {
			if err := s.CreateParents(ctx, path.Dir(p)); err != nil {
				return err
			}
			_, err = call(ctx, s, create)
		}
		if errors.Is(err, zk.ErrNodeExists) {
			return nil
		}
		return err
	})
}

// Create creates p with data and flags (zk.FlagEphemeral, ...) and the
// session's ACL, creating missing parents as CONTAINER nodes first if
// need be, and returns the path created. It blocks until the server
// answers or ctx ends.
//
// An ephemeral node is taken for the Session's own: if ctx ends before the
// answer, a node the request made is deleted in the background once it is
// answered; and a Session over the application's connection
// (NewSession) deletes it when the Session ends (lost or closed), unless
// [Session.DeleteEphemeral] removed it first. A node whose name carries an id made
// for the one create (a UUID, or a protected name) is deleted whatever
// session then owns it; one of any other name, only while the Session's
// own ZooKeeper session owns it.
func (s *Session) Create(ctx context.Context, p string, data []byte, flags int32) (string, error) {
	created, err := s.createOnce(ctx, p, data, flags)
	if errors.Is(err, zk.ErrNoNode) {
		if err = s.CreateParents(ctx, path.Dir(p)); err == nil {
			created, err = s.createOnce(ctx, p, data, flags)
		}
	}
	return created, err
}

// CreateEphemeral creates the ephemeral node p with data, as Create does,
// trying again through connection loss until the Session is lost or ctx
// ends. A create whose answer the connection lost may have made the node:
// then a node at p that this session owns is taken for the one it made.
// (Where two callers may create one name on one Session, both may take
// that node for theirs.) Any other node at p returns zk.ErrNodeExists.
// If it returns an error after such a create (ctx ended while the
// connection was down), a node at p that this session owns is deleted in
// the background once the connection is back, unless a later
// CreateEphemeral of p takes it for the one it made first.
func (s *Session) CreateEphemeral(ctx context.Context, p string, data []byte) (err error) {
	unknown, err := s.takeUp(ctx, p) // an earlier call may have made p: ours there is that node
	if err != nil {
		return err
	}
	defer func() {
		if err != nil && unknown {
			s.doubt(p)
		}
	}()
	for {
		_, err := s.Create(ctx, p, data, zk.FlagEphemeral)
		if errors.Is(err, zk.ErrNodeExists) && unknown {
			var owner int64
			owner, err = call(ctx, s, func() (int64, error) {
				ok, st, err := s.Conn().Exists(p)
				if err == nil && !ok {
					err = zk.ErrNoNode
				}
				if err != nil {
					return 0, err
				}
				return st.EphemeralOwner, nil
			})
			switch {
			case err == nil && owner == s.ID():
				return nil
			case err == nil:
				return zk.ErrNodeExists
			case errors.Is(err, zk.ErrNoNode): // gone meanwhile: create again
				continue
			}
		}
		if !retryable(err) {
			return err
		}
		unknown = true
		if err := s.waitConnected(ctx); err != nil {
			return err
		}
	}
}

func (s *Session) createOnce(ctx context.Context, p string, data []byte, flags int32) (string, error) {
	if flags&zk.FlagEphemeral == 0 {
		return call(ctx, s, func() (string, error) { return s.Conn().Create(p, data, flags, s.cfg.ACL) })
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	ch, err := s.sendCreate(p, data, flags)
	if err != nil {
		return "", err
	}
	select {
	case r := <-ch:
		switch {
		case r.err == nil && r.path != p: // sequential: the name is known now
			s.track(r.path)
			s.untrack(p)
		case errors.Is(r.err, zk.ErrNodeExists) && r.fresh:
			// Someone else's, though maybe on our session (the
			// application's own node, or another Session's over the same
			// connection): no node of ours had the name when we asked.
			s.untrack(p)
		case errors.Is(r.err, zk.ErrNodeExists):
			// Maybe ours: made by an earlier create whose answer was lost,
			// or by one that succeeded (a second Join of one id on this
			// Session). It stays tracked.
		case r.err != nil && !retryable(r.err):
			s.untrack(p) // made nothing of ours
		}
		return r.path, r.err
	case <-ctx.Done():
		s.dropWhenAnswered(p, ch)
		return "", ctx.Err()
	}
}

// takeUp waits for the turn (or ctx), and reports whether a create of p
// that an earlier CreateEphemeral could not learn the outcome of may have
// made it, taking that doubt over from the cleanup.
func (s *Session) takeUp(ctx context.Context, p string) (bool, error) {
	if err := s.ghosts.Lock(ctx); err != nil {
		return false, err
	}
	defer s.ghosts.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	doubted := s.doubtful[p]
	delete(s.doubtful, p)
	return doubted, nil
}

// doubt notes that a create of p may have made it, and has the node
// deleted in the background, once the connection is back, unless a later
// CreateEphemeral of p takes it up first.
func (s *Session) doubt(p string) {
	s.mu.Lock()
	s.doubtful[p] = true
	s.mu.Unlock()
	remove := s.removeTask(p)
	s.Cleanup("remove "+p, func(ctx context.Context) error {
		if err := s.ghosts.Lock(ctx); err != nil {
			return err
		}
		defer s.ghosts.Unlock()
		s.mu.Lock()
		doubted := s.doubtful[p]
		s.mu.Unlock()
		if !doubted {
			return nil // taken up by a later call, or deleted by an earlier cleanup
		}
		if err := remove(ctx); err != nil {
			return err
		}
		s.mu.Lock()
		delete(s.doubtful, p)
		s.mu.Unlock()
		return nil
	})
}

// DeleteEphemeral deletes an ephemeral node this Session made (one whose
// name carries no id made for its create, only while this session owns
// it: another may have made that name since ours went), retrying
// through connection loss until ctx ends; then the deletion goes on in
// the background until it succeeds or the session ends, and it returns
// ctx.Err(). A node already gone, or a session already ended, is success:
// the server deletes a lost session's ephemeral nodes, and a Session over
// the application's connection deletes, when it ends, the ephemeral nodes
// it made with [Session.Create]. Only for such nodes is that true: a
// persistent node left by a session that ended stays.
func (s *Session) DeleteEphemeral(ctx context.Context, path string) error {
	return s.deleteNode(ctx, path)
}

// Retryable reports whether err means a request's outcome is unknown
// because the connection dropped, so that it may be tried again once
// [Session.WaitConnected] returns.
func Retryable(err error) bool { return retryable(err) }

// WaitConnected blocks until the session is connected (nil), lost or
// closed (an error matching ErrLost), or ctx ends (ctx.Err()).
func (s *Session) WaitConnected(ctx context.Context) error { return s.waitConnected(ctx) }
