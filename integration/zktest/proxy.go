package zktest

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"
)

// serveHold bounds how long a client's connection waits for a starting
// member to serve. Clients give up sooner (go-zookeeper after ten read
// timeouts), closing the connection.
const serveHold = time.Minute

type proxyMode int

const (
	modePass proxyMode = iota
	modeCut
	modeBlackhole // both directions
	modeMute      // server to client only
)

// Proxy is an in-process TCP proxy between clients and the members of a
// [Cluster], one listener per member. Its fault controls act on every
// connection that goes through it, and on none that does not, so giving one
// client its own Proxy cuts that client off alone. It is safe for
// concurrent use.
type Proxy struct {
	cluster *Cluster
	lns     []net.Listener
	addrs   []string
	wg      sync.WaitGroup
	port    string // the members' port it forwards to
	opaque  bool   // the stream is encrypted (TLS): no session is learned from it

	mu      sync.Mutex
	mode    proxyMode
	changed chan struct{} // closed and replaced when the mode or the delay changes
	delay   time.Duration
	links   map[*link]struct{}
	closed  bool
}

// NewProxy starts a proxy in front of the cluster's members on loopback
// ports. Clients that connect to its [Proxy.Servers] can be cut off alone.
// [Cluster.Terminate] closes it.
func (c *Cluster) NewProxy() (*Proxy, error) { return c.started().newProxy(clientPort, false) }

func (c *Cluster) newProxy(port string, opaque bool) (*Proxy, error) {
	p := &Proxy{cluster: c, port: port, opaque: opaque, changed: make(chan struct{}), links: make(map[*link]struct{})}
	for _, m := range c.members {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			p.Close()
			return nil, err
		}
		p.lns = append(p.lns, ln)
		p.addrs = append(p.addrs, ln.Addr().String())
		p.wg.Go(func() { p.accept(ln, m) })
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		p.Close()
		return nil, errors.New("zktest: cluster terminated")
	}
	c.proxies = append(c.proxies, p)
	return p, nil
}

// Servers returns the proxy's addresses in member order.
func (p *Proxy) Servers() []string { return append([]string(nil), p.addrs...) }

// Cut closes every connection through the proxy and refuses new ones until
// [Proxy.Heal] (or another mode: each of Cut, Blackhole and
// BlackholeReplies replaces the one before): the client sees its
// connection drop at once.
func (p *Proxy) Cut() {
	p.mu.Lock()
	p.set(modeCut, p.delay)
	links := p.snapshot()
	p.mu.Unlock()
	for _, l := range links {
		l.close()
	}
}

// Blackhole stops forwarding in both directions until [Proxy.Heal], while
// connections stay open and new ones are accepted: the client hears nothing,
// as behind a dead router. Nothing is lost: bytes sent meanwhile are
// delivered on Heal, unless the client hung up by then. A server that hung
// up meanwhile has what it sent before delivered, and then its hang-up.
func (p *Proxy) Blackhole() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.set(modeBlackhole, p.delay)
}

// BlackholeReplies stops forwarding from the servers to the clients until
// [Proxy.Heal], while requests still reach the servers: the server acts on
// a request and its reply is lost, as when a connection dies just after a
// write. Use it to make ghost nodes.
func (p *Proxy) BlackholeReplies() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.set(modeMute, p.delay)
}

// Delay holds every chunk of traffic for d before forwarding it, in both
// directions, counting from when it arrived. Zero removes the delay, also
// for chunks already held.
func (p *Proxy) Delay(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.set(p.mode, d)
}

// Heal ends a Cut or Blackhole; connections cut stay closed.
func (p *Proxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.set(modePass, p.delay)
}

// set changes the mode and delay, and wakes the chunks waiting under the
// old ones to look again. p.mu is held.
func (p *Proxy) set(mode proxyMode, delay time.Duration) {
	p.mode, p.delay = mode, delay
	close(p.changed)
	p.changed = make(chan struct{})
}

// Close stops the proxy and closes every connection through it. Closing
// again does nothing.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	links := p.snapshot()
	p.mu.Unlock()
	var errs []error
	for _, ln := range p.lns {
		errs = append(errs, ln.Close())
	}
	for _, l := range links {
		l.close()
	}
	p.wg.Wait()
	return errors.Join(errs...)
}

func (p *Proxy) snapshot() []*link {
	links := make([]*link, 0, len(p.links))
	for l := range p.links {
		links = append(links, l)
	}
	return links
}

func (p *Proxy) accept(ln net.Listener, m *Member) {
	backoff := 5 * time.Millisecond
	for {
		conn, err := ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			// A failure that passes (too many open files): the client
			// waits in the listener's backlog meanwhile, as with any server.
			time.Sleep(backoff)
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		l := &link{p: p, member: m, client: conn, done: make(chan struct{})}
		p.mu.Lock()
		if p.closed || p.mode == modeCut {
			p.mu.Unlock()
			conn.Close()
			continue
		}
		p.links[l] = struct{}{}
		p.mu.Unlock()
		p.wg.Go(l.run)
	}
}

// wait blocks until a chunk received at 'at' may be forwarded towards the
// client (down) or the server. It returns false if the link closed or was
// cut meanwhile.
func (p *Proxy) wait(l *link, at time.Time, down bool) bool {
	for {
		p.mu.Lock()
		mode, changed, delay := p.mode, p.changed, p.delay
		p.mu.Unlock()
		switch mode {
		case modeCut:
			l.close()
			return false
		case modeBlackhole, modeMute:
			if mode == modeMute && !down {
				break
			}
			select {
			case <-changed:
				continue
			case <-l.done:
				return false
			}
		}
		if wait := time.Until(at.Add(delay)); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-t.C:
				continue // the mode may have changed meanwhile
			case <-changed:
				t.Stop()
				continue
			case <-l.done:
				t.Stop()
				return false
			}
		}
		return true
	}
}

// link is one client connection and its upstream connection.
type link struct {
	p      *Proxy
	member *Member
	client net.Conn
	done   chan struct{}
	once   sync.Once

	mu     sync.Mutex
	server net.Conn
}

func (l *link) close() {
	l.once.Do(func() {
		close(l.done)
		l.client.Close()
		l.mu.Lock()
		if l.server != nil {
			l.server.Close()
		}
		l.mu.Unlock()
		l.p.mu.Lock()
		delete(l.p.links, l)
		l.p.mu.Unlock()
	})
}

func (l *link) run() {
	var wg sync.WaitGroup
	defer wg.Wait() // after l.close, which ends the other goroutines
	defer l.close()
	up := newQueue()
	// Read the client from the start, so that a client hanging up during a
	// black hole closes the link instead of having its bytes replayed later.
	wg.Go(func() { l.read(l.client, up, nil) })

	// Like a SYN behind a dead router, the upstream connection is made only
	// once traffic may flow, and to a single server only once it serves
	// (see Member.serving): the client waits meanwhile.
	at := time.Now()
	var gen uint64
	for {
		if !l.p.wait(l, at, false) {
			return
		}
		hold, cancel := context.WithTimeout(context.Background(), serveHold)
		var ok bool
		gen, ok = l.member.awaitServing(hold, l.done)
		cancel()
		if !ok || !l.p.wait(l, at, false) { // traffic may have stopped meanwhile
			return
		}
		if l.member.sameProcess(gen) {
			break
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	addr, err := l.member.addrOf(ctx, l.p.port)
	if err != nil {
		return
	}
	var d net.Dialer
	server, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return
	}
	l.mu.Lock()
	l.server = server
	l.mu.Unlock()
	select {
	case <-l.done: // closed before l.server was set
		server.Close()
		return
	default:
	}
	if !l.member.sameProcess(gen) {
		// Restarted since it served: the dial may have reached the new
		// process before it serves. Nothing has been forwarded yet, and
		// the client tries again.
		return
	}

	down := newQueue()
	var sniff *connectSniffer
	if !l.p.opaque {
		sniff = &connectSniffer{book: &l.p.cluster.sessions}
	}
	wg.Go(func() { l.read(server, down, sniff) })
	wg.Go(func() { l.write(l.client, down, true) })
	l.write(server, up, false)
	<-l.done // see write
}

// read copies src into q until src fails. Then a client's end closes the
// link at once (its bytes are not replayed to a server later), and a
// server's closes it once what it sent before is forwarded, as TCP
// delivers a reply sent just before the close (a session's expiry).
func (l *link) read(src net.Conn, q *queue, sniff *connectSniffer) {
	for {
		buf := make([]byte, 32<<10)
		n, err := src.Read(buf)
		if n > 0 {
			if sniff != nil {
				sniff.feed(buf[:n])
			}
			q.push(chunk{data: buf[:n], at: time.Now()})
		}
		if err != nil {
			if src == l.client {
				l.close()
			} else {
				q.push(chunk{end: true, at: time.Now()})
			}
			return
		}
	}
}

// write forwards q to dst when the proxy lets it, until the link closes,
// and then closes it; except when a write to the server fails: the server
// hung up, and what it sent before (held by a delay or BlackholeReplies)
// still reaches the client, as TCP delivers data that came before a
// reset. The link then closes once it has (see read), and write returns
// at once, leaving it open.
func (l *link) write(dst net.Conn, q *queue, down bool) {
	for {
		c, ok := q.pop(l.done)
		if !ok || !l.p.wait(l, c.at, down) || c.end {
			break
		}
		if _, err := dst.Write(c.data); err != nil {
			if !down {
				return
			}
			break
		}
	}
	l.close()
}

type chunk struct {
	data []byte
	at   time.Time
	end  bool // the source closed after the chunks before this one
}

// queue is an unbounded FIFO of chunks: ZooKeeper traffic in tests is small.
type queue struct {
	mu    sync.Mutex
	items []chunk
	ready chan struct{} // holds a token while items may be non-empty
}

func newQueue() *queue { return &queue{ready: make(chan struct{}, 1)} }

func (q *queue) push(c chunk) {
	q.mu.Lock()
	q.items = append(q.items, c)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

func (q *queue) pop(done <-chan struct{}) (chunk, bool) {
	for {
		q.mu.Lock()
		if len(q.items) > 0 {
			c := q.items[0]
			q.items = q.items[1:]
			more := len(q.items) > 0
			q.mu.Unlock()
			if more {
				select {
				case q.ready <- struct{}{}:
				default:
				}
			}
			return c, true
		}
		q.mu.Unlock()
		select {
		case <-q.ready:
		case <-done:
			return chunk{}, false
		}
	}
}
