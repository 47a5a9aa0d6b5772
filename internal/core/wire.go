package core

import (
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// The create tap learns the zxid of our own creates from the wire.
//
// A create's reply header carries the zxid of the transaction that made the
// node, which is the node's Czxid: the fencing token. go-zookeeper's Create
// drops the header, and v1.0.4 has no create2 (which would return the
// stat), so without the tap a hold costs one more request, a stat of its
// own node, before it can be granted. A Session made by Connect dials
// through the tap; one wrapping an application's connection does without.
//
// The tap also says when a create request has been written to the socket,
// so that the queue can send its listing right behind it: ZooKeeper serves
// one session's requests in order, so the listing sees the new node and
// create plus listing cost one round trip.
//
// Frames on the wire (after the connect handshake, one frame each way):
//
//	request: len int32 | xid int32 | opcode int32 | body (create: path string, ...)
//	reply:   len int32 | xid int32 | zxid int64 | err int32 | body
type createTap struct {
	mu   sync.Mutex
	want map[string]*tapCreate // by request path

	// The session the connection follows. go-zookeeper opens a new session
	// without a word once the old one has expired, and sends whatever was
	// queued under it. The tap refuses that: it learns the session from the
	// first connect reply, and fails any later handshake that asks for
	// another (a new session asks with id 0), and every dial once the
	// session is dead. Nothing is then ever sent under a session we do not
	// follow.
	sid     atomic.Int64
	timeout atomic.Int64 // negotiated session timeout, in ms
	dead    atomic.Bool

	heard atomic.Int64 // when the server was last heard from: ns since tapEpoch
	// When a read from the server last came after a silence longer than a
	// live session allows (two thirds of its timeout, when go-zookeeper
	// gives up on a quiet connection): the process was stopped, and what
	// that read brought may predate our session's expiry. Ns since
	// tapEpoch; 0: never.
	woke atomic.Int64

	// Under the tap: how a connection is made (Config.Dial, else a TCP
	// dial), and the TLS it speaks (Config.TLS), whose plaintext the tap
	// reads. dialErr is the last dial's failure, to explain a Connect
	// that never got a session.
	base    func(network, address string, timeout time.Duration) (net.Conn, error)
	tls     *tls.Config
	dialErr atomic.Pointer[error]

	// live: the connections made and not closed yet, for hangUp
	live map[*tapConn]struct{}
}

// tapEpoch is the monotonic origin of createTap.heard and woke.
var tapEpoch = time.Now()

// wokeAt returns when a read last came after a silence (see woke), if
// that was less than a session timeout ago, else 0. What such a read
// brought is handled at once, unless the process stops again (which moves
// the wake), so the window covers it whatever reads followed: replies to
// requests sent after the wake, or the next connection's handshake.
func (t *createTap) wokeAt() int64 {
	woke := t.woke.Load()
	if woke == 0 || int64(time.Since(tapEpoch))-woke >= t.timeout.Load()*int64(time.Millisecond) {
		return 0
	}
	return woke
}

// heardAt returns when bytes last came from the server (zero: never).
func (t *createTap) heardAt() time.Time {
	ns := t.heard.Load()
	if ns == 0 {
		return time.Time{}
	}
	return tapEpoch.Add(time.Duration(ns))
}

// errOtherSession fails a handshake for a session the tap does not follow.
var errOtherSession = errors.New("zkrecipes: the followed session is lost; not opening another")

// kill makes the tap refuse every later dial and handshake.
func (t *createTap) kill() { t.dead.Store(true) }

// hangUp closes every connection of the tap's. go-zookeeper's Close gives
// up on an unanswered close request after a second, and its goroutines
// then wait for the connection until its read deadline, up to two thirds
// of a session timeout; closing it under them ends them at once.
func (t *createTap) hangUp() {
	t.mu.Lock()
	live := slices.Collect(maps.Keys(t.live))
	t.mu.Unlock()
	for _, c := range live {
		c.Close()
	}
}

// negotiated returns the session timeout the server granted (0: not yet known).
func (t *createTap) negotiated() time.Duration {
	return time.Duration(t.timeout.Load()) * time.Millisecond
}

// allow reports whether a handshake asking for session sid may go out.
func (t *createTap) allow(sid int64) bool {
	if t.dead.Load() {
		return false
	}
	followed := t.sid.Load()
	return followed == 0 || sid == followed
}

// connected notes the server's reply to a handshake: the session id (0 if
// it has expired) and the negotiated timeout.
func (t *createTap) connected(sid int64, timeoutMs int32) {
	if sid == 0 {
		return
	}
	if t.sid.CompareAndSwap(0, sid) || t.sid.Load() == sid {
		t.timeout.Store(int64(timeoutMs))
	}
}

// tapCreate is one create request the queue wants to hear about.
type tapCreate struct {
	sent chan struct{} // closed once the request is on the wire
	once sync.Once
	zxid atomic.Int64 // the reply's zxid, once a reply without error came
}

const opCreate = 1

// expect registers a create of path (the request path, before any
// sequence suffix); forget must follow once the create has returned.
func (t *createTap) expect(path string) *tapCreate {
	c := &tapCreate{sent: make(chan struct{})}
	t.mu.Lock()
	if t.want == nil {
		t.want = make(map[string]*tapCreate)
	}
	t.want[path] = c
	t.mu.Unlock()
	return c
}

func (t *createTap) forget(path string) {
	t.mu.Lock()
	delete(t.want, path)
	t.mu.Unlock()
}

func (t *createTap) lookup(path string) *tapCreate {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.want[path]
}

// dial is a go-zookeeper Dialer whose connections report to the tap.
func (t *createTap) dial(network, address string, timeout time.Duration) (net.Conn, error) {
	if t.dead.Load() {
		return nil, errOtherSession
	}
	c, err := t.dialUnder(network, address, timeout)
	if err != nil {
		t.dialErr.Store(&err)
		return nil, err
	}
	t.dialErr.Store(nil)
	return t.wrap(c), nil
}

// dialUnder makes the connection the tap sits on: dialed, and with TLS,
// its handshake done within timeout, verifying the server's certificate
// against the host the application named (see configuredHosts), unless
// the configuration names one.
func (t *createTap) dialUnder(network, address string, timeout time.Duration) (net.Conn, error) {
	dial := t.base
	if dial == nil {
		dial = net.DialTimeout
	}
	c, err := dial(network, address, timeout)
	if err != nil || t.tls == nil {
		return c, err
	}
	cfg := t.tls.Clone()
	if cfg.ServerName == "" {
		cfg.ServerName, _, _ = net.SplitHostPort(address)
	}
	tc := tls.Client(c, cfg)
	tc.SetDeadline(time.Now().Add(timeout))
	if err := tc.Handshake(); err != nil {
		c.Close()
		return nil, fmt.Errorf("TLS with %s: %w", address, err)
	}
	tc.SetDeadline(time.Time{})
	return tc, nil
}

// lastDialErr returns why the last dial failed, if it did.
func (t *createTap) lastDialErr() error {
	if p := t.dialErr.Load(); p != nil {
		return *p
	}
	return nil
}

func (t *createTap) wrap(c net.Conn) net.Conn {
	tc := &tapConn{Conn: c, tap: t,
		out:     frames{max: 8 + 4 + maxTappedPath, handshake: true},
		in:      frames{max: 16, handshake: true},
		buf:     make([]byte, readAhead),
		pending: make(map[int32]*tapCreate)}
	tc.out.first = tc.noteConnect
	tc.in.first = tc.noteConnected
	t.mu.Lock()
	if t.live == nil {
		t.live = make(map[*tapConn]struct{})
	}
	t.live[tc] = struct{}{}
	t.mu.Unlock()
	return tc
}

// Close closes the connection, and the tap forgets it.
func (c *tapConn) Close() error {
	c.tap.mu.Lock()
	delete(c.tap.live, c)
	c.tap.mu.Unlock()
	return c.Conn.Close()
}

// maxTappedPath bounds the request paths the tap can match; a longer one
// only means the queue falls back to a stat.
const maxTappedPath = 1024

// tapConn is one connection through the tap. go-zookeeper writes from one
// goroutine and reads from another.
type tapConn struct {
	net.Conn
	tap     *createTap
	out, in frames // each used by one goroutine only

	// read side, used by go-zookeeper's reading goroutine only
	buf     []byte
	ahead   []byte // read from the socket, not yet handed out
	readErr error  // came with the last bytes read; returned next

	refused bool // the handshake asked for a session we do not follow; writer only

	mu      sync.Mutex
	pending map[int32]*tapCreate // by xid: written, reply not seen yet
}

// noteConnect checks the handshake go-zookeeper is about to send:
// protocolVersion int32 | lastZxidSeen int64 | timeOut int32 | sessionId int64 | passwd.
func (c *tapConn) noteConnect(head []byte) {
	if len(head) < 24 || !c.tap.allow(int64(binary.BigEndian.Uint64(head[16:]))) {
		c.refused = true
	}
}

// noteConnected reads the server's handshake reply:
// protocolVersion int32 | timeOut int32 | sessionId int64 | passwd.
func (c *tapConn) noteConnected(head []byte) {
	if len(head) >= 16 {
		c.tap.connected(int64(binary.BigEndian.Uint64(head[8:])), int32(binary.BigEndian.Uint32(head[4:])))
	}
}

// Write registers a tapped create before it can reach the server (so its
// reply cannot overtake the registration) and reports it sent after.
func (c *tapConn) Write(b []byte) (int, error) {
	var sent []*tapCreate
	c.out.feed(b, func(head []byte) {
		xid, op, path, ok := parseRequest(head)
		if !ok || op != opCreate {
			return
		}
		if tc := c.tap.lookup(path); tc != nil {
			c.mu.Lock()
			c.pending[xid] = tc
			c.mu.Unlock()
			sent = append(sent, tc)
		}
	})
	if c.refused {
		c.Conn.Close()
		return 0, errOtherSession
	}
	n, err := c.Conn.Write(b)
	for _, tc := range sent {
		tc.once.Do(func() { close(tc.sent) })
	}
	return n, err
}

// Read hands go-zookeeper what the socket gave, reading ahead: it reads
// each frame's length and then its body, so taking in all that has arrived
// in one call saves a system call per frame. What comes in is parsed as it
// arrives, noting the zxid of replies to tapped creates.
func (c *tapConn) Read(b []byte) (int, error) {
	if len(c.ahead) == 0 {
		if err := c.readErr; err != nil {
			c.readErr = nil
			return 0, err
		}
		n, err := c.Conn.Read(c.buf)
		if n > 0 {
			now := int64(time.Since(tapEpoch))
			prev := c.tap.heard.Swap(now)
			limit := 2 * c.tap.timeout.Load() * int64(time.Millisecond) / 3
			if prev != 0 && limit > 0 && now-prev > limit {
				c.tap.woke.Store(now)
			}
		}
		c.in.feed(c.buf[:n], c.noteReply)
		if n == 0 {
			return 0, err
		}
		c.ahead, c.readErr = c.buf[:n], err
	}
	n := copy(b, c.ahead)
	c.ahead = c.ahead[n:]
	return n, nil
}

// readAhead is how much one read from the socket may take in.
const readAhead = 16 << 10

func (c *tapConn) noteReply(head []byte) {
	xid, zxid, code, ok := parseReply(head)
	if !ok {
		return
	}
	c.mu.Lock()
	tc := c.pending[xid]
	delete(c.pending, xid)
	c.mu.Unlock()
	if tc != nil && code == 0 {
		tc.zxid.Store(zxid)
	}
}

// frames splits a byte stream into length-prefixed frames and hands the
// first max bytes of each frame's body to emit once the whole frame has
// gone by. With handshake set, the first frame (the connect handshake) goes
// to first instead, if set.
type frames struct {
	max       int
	handshake bool
	first     func(head []byte)

	lenBuf [4]byte
	nLen   int    // bytes of lenBuf filled
	left   int    // body bytes still to come; valid when nLen == 4
	head   []byte // the body's first bytes, up to max
}

func (f *frames) feed(b []byte, emit func(head []byte)) {
	for len(b) > 0 {
		if f.nLen < 4 {
			k := copy(f.lenBuf[f.nLen:], b)
			f.nLen += k
			b = b[k:]
			if f.nLen < 4 {
				return
			}
			f.left = int(binary.BigEndian.Uint32(f.lenBuf[:]) & 0x7fffffff)
			f.head = f.head[:0]
		}
		k := min(f.left, len(b))
		if room := f.max - len(f.head); room > 0 {
			f.head = append(f.head, b[:min(k, room)]...)
		}
		f.left -= k
		b = b[k:]
		if f.left == 0 {
			f.nLen = 0
			if f.handshake {
				f.handshake = false
				if f.first != nil {
					f.first(f.head)
				}
			} else {
				emit(f.head)
			}
		}
	}
}

// parseRequest reads a request's xid and opcode and, for a create, its
// path; ok is false for a frame too short to hold what it claims.
func parseRequest(head []byte) (xid, op int32, path string, ok bool) {
	if len(head) < 8 {
		return 0, 0, "", false
	}
	xid = int32(binary.BigEndian.Uint32(head))
	op = int32(binary.BigEndian.Uint32(head[4:]))
	if op != opCreate {
		return xid, op, "", true
	}
	if len(head) < 12 {
		return 0, 0, "", false
	}
	n := int32(binary.BigEndian.Uint32(head[8:]))
	if n < 0 || int(n) > len(head)-12 {
		return 0, 0, "", false
	}
	return xid, op, string(head[12 : 12+n]), true
}

// parseReply reads a reply header.
func parseReply(head []byte) (xid int32, zxid int64, code int32, ok bool) {
	if len(head) < 16 {
		return 0, 0, 0, false
	}
	return int32(binary.BigEndian.Uint32(head)), int64(binary.BigEndian.Uint64(head[4:])),
		int32(binary.BigEndian.Uint32(head[12:])), true
}

// configuredHosts hands go-zookeeper the servers as the application named
// them, unresolved (go-zookeeper's own provider resolves names to
// addresses), so that the dialer knows the host a server's certificate
// must name, and an application's dialer can resolve it as it does. They
// are tried in a shuffled round, as go-zookeeper's are.
type configuredHosts struct {
	mu         sync.Mutex
	servers    []string
	curr, last int // the server tried last, and the one last connected to (-1: none)
}

func (h *configuredHosts) Init(servers []string) error {
	if len(servers) == 0 {
		return errors.New("no servers")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.servers = slices.Clone(servers)
	rand.Shuffle(len(h.servers), func(i, j int) { h.servers[i], h.servers[j] = h.servers[j], h.servers[i] })
	h.curr, h.last = -1, -1
	return nil
}

func (h *configuredHosts) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.servers)
}

// Next returns the next server; retryStart is true once every server has
// been tried since the last connection, as go-zookeeper's provider says.
func (h *configuredHosts) Next() (server string, retryStart bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.curr = (h.curr + 1) % len(h.servers)
	retryStart = h.curr == h.last
	if h.last == -1 {
		h.last = 0
	}
	return h.servers[h.curr], retryStart
}

func (h *configuredHosts) Connected() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.last = h.curr
}
