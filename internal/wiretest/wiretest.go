// Package wiretest shows tests what a go-zookeeper client sends and
// receives: a dialer whose connections hand each request to the test
// before it goes out, and let it hold back what comes in.
package wiretest

import (
	"encoding/binary"
	"net"
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
