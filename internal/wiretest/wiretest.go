// Package wiretest shows tests what a go-zookeeper client sends and
// receives: a dialer whose connections hand each request to the test
// before it goes out, and let it hold back what comes in.
package wiretest

import (
	"encoding/binary"
	"net"
	"slices"
	"sync/atomic"
	"syscall"
	"time"
)

// Opcodes of the requests tests look for.
const (
	OpCreate       = 1
	OpDelete       = 2
	OpExists       = 3
	OpGetData      = 4
	OpSetData      = 5
	OpGetChildren  = 8
	OpGetChildren2 = 12
)

// Hooks are what a test does on a connection. A nil hook does nothing.
type Hooks struct {
	// Request sees each request before it is written: its opcode, and
	// the whole frame (length, xid, opcode, then the body). An error
	// breaks the connection instead, as a write that fails would: it is
	// closed, and the write returns a *net.OpError.
	Request func(op int32, frame []byte) error
	// Read runs after each read from the server, before its bytes are
	// handed to the client: it may block to hold them back.
	Read func()
}

// Dialer returns a dialer (for recipes.WithDialer or zk.WithDialer)
// whose connections run h. go-zookeeper writes each request whole, in
// one Write; the first write is the handshake, which has no opcode and
// is passed over.
func Dialer(h Hooks) func(network, address string, timeout time.Duration) (net.Conn, error) {
	return func(network, address string, timeout time.Duration) (net.Conn, error) {
		c, err := net.DialTimeout(network, address, timeout)
		if err != nil {
			return nil, err
		}
		return &conn{Conn: c, h: h}, nil
	}
}

type conn struct {
	net.Conn
	h         Hooks
	handshook bool // written by go-zookeeper's one writing goroutine
}

func (c *conn) Write(b []byte) (int, error) {
	if c.handshook && c.h.Request != nil && len(b) >= 12 {
		if err := c.h.Request(int32(binary.BigEndian.Uint32(b[8:12])), b); err != nil {
			c.Conn.Close()
			return 0, &net.OpError{Op: "write", Net: "tcp", Err: err}
		}
	}
	c.handshook = true
	return c.Conn.Write(b)
}

func (c *conn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if c.h.Read != nil {
		c.h.Read()
	}
	return n, err
}

// ErrBrokenPipe is what a Request hook returns to break the connection as
// a peer that went away would.
var ErrBrokenPipe error = syscall.EPIPE

// A Gate holds back a request: once armed, the next request of its
// opcodes (after skip others of them) waits before it is written until
// the gate is released, and with it every request behind it on the
// connection. A test uses it to make something happen while a request
// is out of reach of the server.
type Gate struct {
	ops      []int32
	skip     atomic.Int32
	armed    atomic.Bool
	held     chan struct{}
	released chan struct{}
}

// NewGate returns a gate for requests of the opcodes ops.
func NewGate(ops ...int32) *Gate {
	return &Gate{ops: ops, held: make(chan struct{}), released: make(chan struct{})}
}

// Arm makes the gate hold the next request of its opcodes after skip of
// them. It holds one request only, once.
func (g *Gate) Arm(skip int) {
	g.skip.Store(int32(skip))
	g.armed.Store(true)
}

// Held is closed once a request is held.
func (g *Gate) Held() <-chan struct{} { return g.held }

// Release lets the held request go (or the gate, if none is held yet,
// hold none).
func (g *Gate) Release() { close(g.released) }

// Dialer returns a dialer whose connections the gate holds requests of.
func (g *Gate) Dialer() func(network, address string, timeout time.Duration) (net.Conn, error) {
	return Dialer(Hooks{Request: func(op int32, _ []byte) error {
		if !slices.Contains(g.ops, op) || !g.armed.Load() || g.skip.Add(-1) != -1 || !g.armed.CompareAndSwap(true, false) {
			return nil
		}
		close(g.held)
		<-g.released
		return nil
	}})
}
