package zktest

import (
	"io"
	"net"
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
	p := &Proxy{gate: make(chan struct{}), links: make(map[*link]struct{})}
	close(p.gate)
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
