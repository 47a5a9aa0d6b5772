package integration_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zkrecipes/zkrecipes/integration/safety"
	"github.com/zkrecipes/zkrecipes/integration/safety/worker"
	"github.com/zkrecipes/zkrecipes/integration/zktest"
	"github.com/zkrecipes/zkrecipes/recipes"
)

// The safety suite's workers are this test binary, run again with
// worker.Env set: init takes over before TestMain starts any server.
func init() {
	cfg := os.Getenv(worker.Env)
	if cfg == "" {
		return
	}
	var c worker.Config
	if err := json.Unmarshal([]byte(cfg), &c); err != nil {
		fmt.Fprintln(os.Stderr, "safety worker:", err)
		os.Exit(2)
	}
	if err := worker.Main(c, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "safety worker:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// proc is one worker process.
type proc struct {
	id, slot int
	proxy    *zktest.Proxy
	cmd      *exec.Cmd
	stderr   tail
	acks     chan worker.Msg // answers to freeze and wake
	exited   chan struct{}   // closed once it has exited and its output is read
	err      error           // how it exited

	inMu  sync.Mutex
	stdin io.WriteCloser
}

func (p *proc) send(cmd string) error {
	p.inMu.Lock()
	defer p.inMu.Unlock()
	_, err := io.WriteString(p.stdin, cmd+"\n")
	return err
}

// await waits for the answer t to a command.
func (p *proc) await(t string, limit time.Duration) (worker.Msg, error) {
	timer := time.NewTimer(limit)
	defer timer.Stop()
	for {
		select {
		case m := <-p.acks:
			if m.T == t {
				return m, nil
			}
		case <-p.exited:
			return worker.Msg{}, fmt.Errorf("worker %d exited", p.id)
		case <-timer.C:
			return worker.Msg{}, fmt.Errorf("worker %d did not answer %q within %v", p.id, t, limit)
		}
	}
}

func (p *proc) closeInput() {
	p.inMu.Lock()
	defer p.inMu.Unlock()
	p.stdin.Close()
}

func (p *proc) signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// tail keeps the end of a worker's stderr (a race report, a panic).
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tail) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if n := len(t.buf) - 64<<10; n > 0 {
		t.buf = t.buf[n:]
	}
	return len(b), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// fleet runs the worker processes, one per slot, each through the slot's
// own proxy, and restarts a slot's process when the nemesis kills it.
type fleet struct {
	t    *testing.T
	base worker.Config
	rec  *recorder

	mu     sync.Mutex
	procs  []*proc // every process started
	slots  []*proc // the current process of each slot
	nextID int

	knownRaces int // go-zookeeper's own data race, seen by stopAll (see races)
}

func (f *fleet) start(slot int, proxy *zktest.Proxy) (*proc, error) {
	f.mu.Lock()
	f.nextID++
	p := &proc{id: f.nextID, slot: slot, proxy: proxy, acks: make(chan worker.Msg, 8), exited: make(chan struct{})}
	f.mu.Unlock()
	cfg := f.base
	cfg.ID, cfg.Servers = p.id, proxy.Servers()
	data, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	p.cmd = exec.Command(exe, "-test.run=^$")
	p.cmd.Env = append(os.Environ(), worker.Env+"="+string(data))
	p.cmd.Stderr = &p.stderr
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.procs = append(f.procs, p)
	for len(f.slots) <= slot {
		f.slots = append(f.slots, nil)
	}
	f.slots[slot] = p
	f.mu.Unlock()
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var m worker.Msg
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				f.rec.malformed(p.id, sc.Text())
				continue
			}
			f.rec.add(p.id, m)
			if m.T == "frozen" || m.T == "woke" {
				select {
				case p.acks <- m:
				default:
				}
			}
		}
		io.Copy(io.Discard, stdout)
		p.err = p.cmd.Wait()
		f.rec.exited(p.id, time.Now())
		close(p.exited)
	}()
	return p, nil
}

func (f *fleet) current() []*proc {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.slots)
}

func (f *fleet) all() []*proc {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.procs)
}

// hold is one hold as the worker reported it.
type holdRec struct {
	proc, g    int
	recipe     string
	shared     bool
	token, sid int64
	from, end  time.Time // end is zero until the worker says trust ended
	downgrade  *worker.Msg
}

// guardedRec is one guarded write.
type guardedRec struct {
	proc        int
	recipe      string
	token       int64
	stale       bool
	from, to    time.Time
	done        bool // the worker saw its outcome
	ok, unknown bool
}

type sessionRec struct {
	proc       int
	start, end time.Time // end: the worker stopped following it (or was killed)
}

// cut is a moment the nemesis ended trust without the worker knowing:
// it stopped or killed the process, or expired the session.
type cut struct {
	kind     string // "stop", "kill", "expire"
	proc     int
	sid      int64
	from, to time.Time // stop: from freeze to SIGCONT
}

// recorder collects what the workers report.
type recorder struct {
	mu         sync.Mutex
	holds      map[[2]int64]*holdRec
	guarded    map[[2]int64]*guardedRec
	sessions   map[int64]*sessionRec
	cuts       []cut
	grants     map[string]int
	downgrades map[string]int
	refused    map[string]int
	open       map[int]int // exclusive holds granted and not yet ended, per process
	lastGrant  map[int]time.Time
	curSID     map[int]int64
	exitedAt   map[int]time.Time
	killed     map[int]bool
	odd        []string // lines that make no sense
	// holds that ended for a write to their node by another client: the
	// nemesis writes only revocation requests, which must end none
	mismatched []string
	cutHolds   map[string]int // holds whose trust a fault of the nemesis ended, per kind
	// exclusive holders stopped in their hold by SIGSTOP (they write once
	// more on waking)
	stoppedHolders int
}

func newRecorder() *recorder {
	return &recorder{
		holds: map[[2]int64]*holdRec{}, guarded: map[[2]int64]*guardedRec{}, sessions: map[int64]*sessionRec{},
		grants: map[string]int{}, downgrades: map[string]int{}, refused: map[string]int{}, open: map[int]int{},
		lastGrant: map[int]time.Time{}, curSID: map[int]int64{}, exitedAt: map[int]time.Time{}, killed: map[int]bool{},
		cutHolds: map[string]int{},
	}
}

func (r *recorder) malformed(id int, line string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.odd = append(r.odd, fmt.Sprintf("worker %d wrote %q", id, line))
}

func (r *recorder) add(id int, m worker.Msg) {
	r.mu.Lock()
	defer r.mu.Unlock()
	at := time.Unix(0, m.At)
	key := [2]int64{int64(id), m.H}
	switch m.T {
	case "session":
		r.sessions[m.SID] = &sessionRec{proc: id, start: at}
		r.curSID[id] = m.SID
	case "lost":
		if s, ok := r.sessions[m.SID]; ok && s.end.IsZero() {
			s.end = at
		}
		if r.curSID[id] == m.SID {
			r.curSID[id] = 0
		}
	case "grant":
		r.holds[key] = &holdRec{proc: id, g: m.G, recipe: m.R, shared: m.Shared, token: m.Token, sid: m.SID, from: at}
		name := m.R
		if m.R == worker.RWLock {
			name = "rwlock write"
			if m.Shared {
				name = "rwlock read"
			}
		}
		r.grants[name]++
		if !m.Shared {
			r.open[id]++
		}
		r.lastGrant[id] = at
	case "downgrade":
		if h, ok := r.holds[key]; ok {
			h.downgrade = &m
		}
		switch {
		case m.OK:
			r.downgrades["done"]++
		case m.Write:
			r.downgrades["failed, still a writer"]++
		default:
			r.downgrades["failed, a reader"]++
		}
	case "untrusted": // the loss, seen before the release that says "end"
		if strings.Contains(m.Err, recipes.ErrNodeMismatch.Error()) {
			r.mismatched = append(r.mismatched, fmt.Sprintf("worker %d: %s", id, m.Err))
		}
		if h, ok := r.holds[key]; ok && (h.end.IsZero() || at.Before(h.end)) {
			h.end = at
		}
	case "end":
		if h, ok := r.holds[key]; ok {
			if h.end.IsZero() || at.Before(h.end) {
				h.end = at
			}
			if !h.shared {
				r.open[id]--
			}
		}
	case "gw":
		r.guarded[[2]int64{int64(id), m.W}] = &guardedRec{proc: id, recipe: m.R, token: m.Token, stale: m.Stale, from: at}
	case "gwr":
		if g, ok := r.guarded[[2]int64{int64(id), m.W}]; ok {
			g.done, g.ok, g.unknown, g.to = true, m.OK, m.Unknown, at
		}
	case "refused":
		r.refused[m.R+": "+m.Err]++
	}
}

func (r *recorder) exited(id int, at time.Time) {
	at = at.Round(0) // the workers' times are wall clock: compare with that
	r.mu.Lock()
	defer r.mu.Unlock()
	r.exitedAt[id] = at
	for _, s := range r.sessions {
		if s.proc == id && s.end.IsZero() {
			s.end = at
		}
	}
}

func (r *recorder) cut(c cut) {
	c.from, c.to = c.from.Round(0), c.to.Round(0) // the workers' times are wall clock: compare with that
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cuts = append(r.cuts, c)
	if c.kind == "kill" {
		r.killed[c.proc] = true
		for _, s := range r.sessions {
			if s.proc == c.proc && s.end.IsZero() {
				s.end = c.from
			}
		}
	}
}

// holding reports whether process id is in the middle of an exclusive hold.
func (r *recorder) holding(id int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.open[id] > 0
}

func (r *recorder) session(id int) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.curSID[id]
}

func (r *recorder) grantedSince(id int, t time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastGrant[id].After(t)
}

// owner judges a node's owner: "" if a worker follows it (or followed it
// until a moment ago), else why the node is a leak.
func (r *recorder) owner(sid int64, now time.Time, grace time.Duration) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.sessions[sid]
	switch {
	case !ok:
		return fmt.Sprintf("owned by session 0x%x, which no worker follows (a replacement session)", sid)
	case !s.end.IsZero() && now.Sub(s.end) > grace:
		return fmt.Sprintf("owned by session 0x%x, which worker %d stopped following at %s", sid, s.proc, s.end.Format("15:04:05.000"))
	}
	return ""
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// events turns the record into the checker's history: each hold's trust
// ends at the first of what the worker saw and what the nemesis did to it;
// a downgraded write hold is a write stretch then a read stretch. It also
// returns what does not add up (a hold never ended by a worker that was
// not killed).
func (r *recorder) events(store []safety.Event) ([]safety.Event, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var evs []safety.Event
	odd := slices.Clone(r.odd)
	clear(r.cutHolds)
	for _, h := range r.holds {
		to := h.end
		if to.IsZero() {
			to = r.exitedAt[h.proc]
			if !r.killed[h.proc] {
				odd = append(odd, fmt.Sprintf("worker %d: hold with token %d never ended", h.proc, h.token))
			}
		}
		for _, c := range r.cuts {
			before := to
			switch c.kind {
			case "kill":
				if h.proc == c.proc {
					to = minTime(to, maxTime(h.from, c.from))
				}
			case "stop":
				if h.proc != c.proc {
					break
				}
				if h.from.Before(c.from) {
					to = minTime(to, c.from)
				} else if !h.from.After(c.to) || h.sid == c.sid {
					to = h.from // granted while frozen, or on the session the pause killed
				}
			case "expire":
				if h.sid == c.sid {
					to = minTime(to, maxTime(h.from, c.from))
				}
			}
			if to.Before(before) {
				r.cutHolds[c.kind]++
			}
		}
		client := worker.Client(h.proc, h.g)
		e := safety.Event{Client: client, Resource: h.recipe, Kind: safety.Hold, Shared: h.shared, Token: h.token, From: h.from}
		if d := h.downgrade; d != nil && time.Unix(0, d.At).Before(to) {
			call, ret := time.Unix(0, d.At), time.Unix(0, d.Ret)
			w := e
			w.To = call
			evs = append(evs, w)
			if d.Write { // the downgrade failed and the hold went on writing
				w.From, w.To = ret, to
				evs = append(evs, w)
			} else {
				rd := e
				rd.Shared, rd.From, rd.To = true, call, to
				evs = append(evs, rd)
			}
			continue
		}
		e.To = to
		evs = append(evs, e)
	}
	for _, g := range r.guarded {
		evs = append(evs, safety.Event{Client: g.proc, Resource: g.recipe, Kind: safety.GuardedWrite, Token: g.token,
			From: g.from, To: g.to, OK: g.done && g.ok, Unknown: !g.done || g.unknown, Stale: g.stale})
	}
	sort.Strings(odd)
	return append(evs, store...), odd
}

// summary describes the counts for the log line (after events).
func (r *recorder) summary() (grants map[string]int, total int, downgrades, refused, cuts string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	grants = map[string]int{}
	for k, v := range r.grants {
		grants[k] = v
		total += v
	}
	return grants, total, fmt.Sprint(r.downgrades), fmt.Sprint(r.refused), fmt.Sprint(r.cutHolds)
}

func joinLines(lines []string, limit int) string {
	if len(lines) > limit {
		lines = append(lines[:limit:limit], fmt.Sprintf("... and %d more", len(lines)-limit))
	}
	return strings.Join(lines, "\n")
}
