package zktest

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// ErrUnknownSession is returned by [Cluster.ExpireSession] for a session
// that no proxy of the cluster has seen being established.
var ErrUnknownSession = errors.New("zktest: session not seen by any proxy of this cluster")

// ExpireSession ends the session with the given id on the server side, as
// the server does when a session times out: its ephemeral nodes are deleted
// and its client, on reconnecting, learns that the session expired
// (go-zookeeper reports StateExpired). The session must have been made
// through one of the cluster's proxies ([Cluster.Servers] or a
// [Cluster.NewProxy]), which is how the harness learns its password.
// Expiring a session that has already ended is not an error.
func (c *Cluster) ExpireSession(ctx context.Context, sessionID int64) error {
	c = c.started()
	cred, ok := c.sessions.get(sessionID)
	if !ok {
		return fmt.Errorf("%w: 0x%x", ErrUnknownSession, sessionID)
	}
	var errs []error
	for _, m := range c.members {
		if !m.up() {
			continue
		}
		// A member that has not served since it started may leave our
		// connection hanging (see Member.serving).
		if _, ok := m.serving(); !ok {
			if _, err := m.Mode(ctx); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		err := closeSession(ctx, m, sessionID, cred)
		if err == nil {
			return nil
		}
		errs = append(errs, err)
	}
	return fmt.Errorf("zktest: expire session 0x%x: %w", sessionID, errors.Join(errs...))
}

// closeSession joins the session from a new connection and closes it: the
// server then expires it for every connection, which is the only way a
// client can end another client's session.
func closeSession(ctx context.Context, m *Member, id int64, cred credential) error {
	addr, err := m.Addr(ctx)
	if err != nil {
		return err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(10 * time.Second)
	}
	conn.SetDeadline(deadline)

	// ConnectRequest: protocolVersion, lastZxidSeen, timeOut, sessionId, passwd, readOnly.
	req := binary.BigEndian.AppendUint32(nil, 0)
	req = binary.BigEndian.AppendUint64(req, 0)
	req = binary.BigEndian.AppendUint32(req, uint32(cred.timeout))
	req = binary.BigEndian.AppendUint64(req, uint64(id))
	req = binary.BigEndian.AppendUint32(req, uint32(len(cred.passwd)))
	req = append(req, cred.passwd...)
	req = append(req, 0)
	if err := writeFrame(conn, req); err != nil {
		return err
	}
	resp, err := readFrame(conn)
	if err != nil {
		return fmt.Errorf("connect reply: %w", err)
	}
	if got, ok := parseConnectResponse(resp); !ok || got.timeout <= 0 {
		return nil // the server no longer knows the session: it has expired
	}
	// RequestHeader{xid: 1, type: closeSession (-11)}.
	var opCloseSession int32 = -11
	closeReq := binary.BigEndian.AppendUint32(nil, 1)
	closeReq = binary.BigEndian.AppendUint32(closeReq, uint32(opCloseSession))
	if err := writeFrame(conn, closeReq); err != nil {
		return err
	}
	// ReplyHeader{xid, zxid, err}; the server may close instead of replying.
	reply, err := readFrame(conn)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return fmt.Errorf("close reply: %w", err)
	}
	if len(reply) >= 16 {
		if code := int32(binary.BigEndian.Uint32(reply[12:16])); code != 0 {
			return fmt.Errorf("close session: server error %d", code)
		}
	}
	return nil
}

func writeFrame(w io.Writer, body []byte) error {
	_, err := w.Write(append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...))
	return err
}

func readFrame(r io.Reader) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > 1<<20 {
		return nil, fmt.Errorf("frame of %d bytes", n)
	}
	body := make([]byte, n)
	_, err := io.ReadFull(r, body)
	return body, err
}

type credential struct {
	timeout int32
	passwd  []byte
}

type connectResponse struct {
	credential
	id int64
}

// parseConnectResponse decodes ConnectResponse{protocolVersion, timeOut,
// sessionId, passwd}.
func parseConnectResponse(b []byte) (connectResponse, bool) {
	if len(b) < 20 {
		return connectResponse{}, false
	}
	r := connectResponse{id: int64(binary.BigEndian.Uint64(b[8:16]))}
	r.timeout = int32(binary.BigEndian.Uint32(b[4:8]))
	n := int(int32(binary.BigEndian.Uint32(b[16:20])))
	if n < 0 || n > len(b)-20 {
		return connectResponse{}, false
	}
	r.passwd = append([]byte(nil), b[20:20+n]...)
	return r, true
}

// sessionBook remembers the credentials of every session seen by a proxy.
type sessionBook struct {
	mu    sync.Mutex
	creds map[int64]credential
}

func (b *sessionBook) add(r connectResponse) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.creds == nil {
		b.creds = make(map[int64]credential)
	}
	b.creds[r.id] = r.credential
}

func (b *sessionBook) get(id int64) (credential, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	c, ok := b.creds[id]
	return c, ok
}

// connectSniffer reads the first frame a server sends on a connection,
// which is always the ConnectResponse, and records the session in it.
type connectSniffer struct {
	book *sessionBook
	buf  []byte
	done bool
}

func (s *connectSniffer) feed(b []byte) {
	if s.done {
		return
	}
	s.buf = append(s.buf, b...)
	if len(s.buf) < 4 {
		return
	}
	n := int(binary.BigEndian.Uint32(s.buf))
	if n > 4096 {
		s.done = true
		return
	}
	if len(s.buf) < 4+n {
		return
	}
	s.done = true
	if r, ok := parseConnectResponse(s.buf[4 : 4+n]); ok && r.timeout > 0 {
		s.book.add(r)
	}
	s.buf = nil
}
