package zktest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// Server modes as reported by the srvr four-letter word.
const (
	ModeLeader     = "leader"
	ModeFollower   = "follower"
	ModeObserver   = "observer"
	ModeStandalone = "standalone"
)

// FourLetterWord sends a four-letter command (srvr, mntr, dump, cons, ...)
// straight to the member, bypassing every proxy, and returns the reply.
func (m *Member) FourLetterWord(ctx context.Context, cmd string) (string, error) {
	return m.fourLetterWord(ctx, cmd, nil)
}

// fourLetterWord sends cmd and reads the reply until the server closes the
// connection or, if complete is not nil, until complete says that what has
// been read so far is the whole reply.
func (m *Member) fourLetterWord(ctx context.Context, cmd string, complete func(string) bool) (string, error) {
	addr, err := m.Addr(ctx)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", fmt.Errorf("zktest: member %d %s: %w", m.id, cmd, err)
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)
	if _, err := io.WriteString(conn, cmd); err != nil {
		return "", fmt.Errorf("zktest: member %d %s: %w", m.id, cmd, err)
	}
	var out []byte
	buf := make([]byte, 4096)
	for complete == nil || !complete(string(out)) {
		n, err := conn.Read(buf)
		out = append(out, buf[:n]...)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "", fmt.Errorf("zktest: member %d %s: %w", m.id, cmd, err)
		}
	}
	return string(out), nil
}

// Replies to srvr: the serving server's has a mode line, the other's is
// one sentence.
const (
	srvrModePrefix = "Mode: "
	srvrNotServing = "not currently serving requests"
)

// srvrComplete reports whether out holds enough of a srvr reply to tell
// the mode, without waiting for the server to close the connection: a
// starting ZooKeeper 3.8 may never close it (see Member.serving).
func srvrComplete(out string) bool {
	if strings.Contains(out, srvrNotServing) {
		return true
	}
	_, rest, ok := strings.Cut(out, "\n"+srvrModePrefix)
	return ok && strings.Contains(rest, "\n")
}

// Mode returns the member's role ([ModeLeader], [ModeFollower],
// [ModeStandalone], ...) from srvr, or an error if it does not serve.
func (m *Member) Mode(ctx context.Context) (string, error) {
	gen, _ := m.serving()
	out, err := m.fourLetterWord(ctx, "srvr", srvrComplete)
	if err != nil {
		return "", err
	}
	for line := range strings.Lines(out) {
		if mode, ok := strings.CutPrefix(strings.TrimSpace(line), srvrModePrefix); ok {
			m.sawServing(gen)
			return mode, nil
		}
	}
	return "", fmt.Errorf("zktest: member %d does not serve: %s", m.id, strings.TrimSpace(out))
}

// Mntr returns the member's monitoring counters (the mntr four-letter word),
// for example "zk_packets_received".
func (m *Member) Mntr(ctx context.Context) (map[string]string, error) {
	out, err := m.FourLetterWord(ctx, "mntr")
	if err != nil {
		return nil, err
	}
	stats := make(map[string]string)
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "\t"); ok {
			stats[k] = v
		}
	}
	if len(stats) == 0 {
		return nil, fmt.Errorf("zktest: member %d mntr: %s", m.id, strings.TrimSpace(out))
	}
	return stats, nil
}
