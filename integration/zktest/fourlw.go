package zktest

import (
	"bufio"
	"context"
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
	out, err := io.ReadAll(conn)
	if err != nil {
		return "", fmt.Errorf("zktest: member %d %s: %w", m.id, cmd, err)
	}
	return string(out), nil
}

// Mode returns the member's role ([ModeLeader], [ModeFollower],
// [ModeStandalone], ...) from srvr, or an error if it does not serve.
func (m *Member) Mode(ctx context.Context) (string, error) {
	out, err := m.FourLetterWord(ctx, "srvr")
	if err != nil {
		return "", err
	}
	for line := range strings.Lines(out) {
		if mode, ok := strings.CutPrefix(strings.TrimSpace(line), "Mode: "); ok {
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
