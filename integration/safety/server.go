package safety

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// StoreServer serves stores, one per resource, to worker processes over a
// loopback TCP socket, and records every write in its History with the
// server's clock. The protocol is one line per write, "resource client
// token stale", answered "1" (accepted) or "0" (refused).
type StoreServer struct {
	ln      net.Listener
	fenced  bool
	history History
	wg      sync.WaitGroup

	mu     sync.Mutex
	stores map[string]*Store
	conns  map[net.Conn]struct{}
}

// NewStoreServer listens on a loopback port. Its stores check tokens if
// fenced is true.
func NewStoreServer(fenced bool) (*StoreServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &StoreServer{ln: ln, fenced: fenced, stores: map[string]*Store{}, conns: map[net.Conn]struct{}{}}
	s.wg.Go(s.accept)
	return s, nil
}

// Addr returns the address workers dial.
func (s *StoreServer) Addr() string { return s.ln.Addr().String() }

// Events returns the writes recorded so far.
func (s *StoreServer) Events() []Event { return s.history.Events() }

// Close stops serving and waits for the connections' goroutines.
func (s *StoreServer) Close() error {
	err := s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return err
}

func (s *StoreServer) accept() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Go(func() { s.serve(c) })
	}
}

func (s *StoreServer) store(resource string) *Store {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.stores[resource]
	if !ok {
		st = NewStore(s.fenced)
		s.stores[resource] = st
	}
	return st
}

func (s *StoreServer) serve(c net.Conn) {
	defer func() {
		c.Close()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 4 {
			return
		}
		client, err1 := strconv.Atoi(f[1])
		token, err2 := strconv.ParseInt(f[2], 10, 64)
		stale, err3 := strconv.ParseBool(f[3])
		if err := errors.Join(err1, err2, err3); err != nil {
			return
		}
		st := s.store(f[0])
		from := time.Now()
		ok := st.Write(token)
		s.history.Add(Event{Client: client, Resource: f[0], Kind: StoreWrite, Token: token, From: from, To: time.Now(), OK: ok, Stale: stale})
		reply := "0\n"
		if ok {
			reply = "1\n"
		}
		if _, err := c.Write([]byte(reply)); err != nil {
			return
		}
	}
}

// StoreClient writes to a StoreServer. It is not safe for concurrent use:
// give each goroutine its own.
type StoreClient struct {
	c net.Conn
	r *bufio.Reader
}

// DialStore connects to the StoreServer at addr.
func DialStore(addr string) (*StoreClient, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &StoreClient{c: c, r: bufio.NewReader(c)}, nil
}

// Write writes token to the resource's store as client, and reports
// whether the store accepted it.
func (c *StoreClient) Write(resource string, client int, token int64, stale bool) (bool, error) {
	if strings.ContainsAny(resource, " \n") || resource == "" {
		return false, fmt.Errorf("safety: bad resource name %q", resource)
	}
	if _, err := fmt.Fprintf(c.c, "%s %d %d %t\n", resource, client, token, stale); err != nil {
		return false, err
	}
	line, err := c.r.ReadString('\n')
	if err != nil {
		return false, err
	}
	return line == "1\n", nil
}

// Close closes the connection.
func (c *StoreClient) Close() error { return c.c.Close() }
