package zktest

import (
	"io"
	"net"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A client that writes after the server hung up, while the server's last
// words are held (BlackholeReplies, Delay), still gets them and then the
// hang-up, as over TCP; the link used to close at the failed write and
// drop them.
func TestAServerHangUpStillDeliversWhatItSentBefore(t *testing.T) {
	p := &Proxy{changed: make(chan struct{}), links: make(map[*link]struct{})}
	app, client := net.Pipe()
	defer app.Close()
	l := &link{p: p, client: client, done: make(chan struct{})}
	p.links[l] = struct{}{}
	server, gone := net.Pipe()
	gone.Close() // the server hung up: a write to it fails

	up, down := newQueue(), newQueue()
	up.push(chunk{data: []byte("ping"), at: time.Now()})
	l.write(server, up, false)
	select {
	case <-l.done:
		t.Fatal("the link closed when the client wrote after the server hung up")
	default:
	}

	down.push(chunk{data: []byte("imok"), at: time.Now()})
	down.push(chunk{end: true, at: time.Now()})
	go l.write(client, down, true)
	got, err := io.ReadAll(app)
	require.NoError(t, err)
	assert.Equal(t, "imok", string(got))
	<-l.done
}

// TestAChangeOfModeAppliesToChunksAlreadyHeld: a request held by a
// Blackhole goes on when BlackholeReplies follows (requests reach the
// servers); a chunk held by a long Delay goes on when the delay is set to
// zero; and a held chunk's link closes on a Cut. They waited for the old
// mode's Heal, or the old delay, before.
func TestAChangeOfModeAppliesToChunksAlreadyHeld(t *testing.T) {
	p := &Proxy{changed: make(chan struct{}), links: make(map[*link]struct{})}
	l := &link{p: p, client: nopConn{}, done: make(chan struct{})}
	waiting := func(down bool) chan bool { // once the chunk is held
		ch := make(chan bool, 1)
		go func() { ch <- p.wait(l, time.Now(), down) }()
		for deadline := time.Now().Add(5 * time.Second); !holding(); {
			require.True(t, time.Now().Before(deadline), "the chunk was not held")
			runtime.Gosched()
		}
		return ch
	}
	within := func(ch chan bool, what string) bool {
		t.Helper()
		select {
		case ok := <-ch:
			return ok
		case <-time.After(5 * time.Second):
			t.Fatal(what)
			return false
		}
	}

	p.Blackhole()
	request := waiting(false)
	p.BlackholeReplies()
	assert.True(t, within(request, "a request held by Blackhole stayed held under BlackholeReplies"))
	reply := waiting(true)
	p.Heal()
	assert.True(t, within(reply, "a reply stayed held after Heal"))

	p.Delay(time.Hour)
	held := waiting(true)
	p.Delay(0)
	assert.True(t, within(held, "a chunk stayed held after Delay(0)"))

	p.Blackhole()
	cut := waiting(true)
	p.Cut()
	assert.False(t, within(cut, "a chunk held by Blackhole was not dropped by a Cut"))
}

// nopConn is a net.Conn that does nothing, for a link that sends nothing.
type nopConn struct{ net.Conn }

func (nopConn) Close() error { return nil }

// holding reports whether a goroutine waits in Proxy.wait, blocked.
func holding() bool {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "zktest.(*Proxy).wait(") && strings.Contains(g, "[select") {
			return true
		}
	}
	return false
}

// TestAcceptGoesOnAfterAFailureThatPasses: an Accept that fails (too many
// open files) is tried again, and the next client is taken; only a closed
// listener ends the loop. Before, the first failure ended it for good,
// with the socket still open: clients hung in its backlog.
func TestAcceptGoesOnAfterAFailureThatPasses(t *testing.T) {
	p := &Proxy{changed: make(chan struct{}), links: make(map[*link]struct{}), mode: modeCut} // a Cut closes what it takes
	client := &closeCounter{}
	ln := &scriptedListener{results: []acceptResult{
		{err: &net.OpError{Op: "accept", Net: "tcp", Err: syscall.EMFILE}},
		{conn: client},
		{err: net.ErrClosed},
	}}
	done := make(chan struct{})
	go func() { p.accept(ln, nil); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("accept did not end at the closed listener")
	}
	assert.EqualValues(t, 1, client.closed.Load(), "the client after the failure was not taken")
}

type acceptResult struct {
	conn net.Conn
	err  error
}

// scriptedListener hands out its results in order.
type scriptedListener struct {
	net.Listener
	results []acceptResult
}

func (l *scriptedListener) Accept() (net.Conn, error) {
	r := l.results[0]
	l.results = l.results[1:]
	return r.conn, r.err
}

// closeCounter is a connection that counts its closes.
type closeCounter struct {
	net.Conn
	closed atomic.Int32
}

func (c *closeCounter) Close() error { c.closed.Add(1); return nil }
