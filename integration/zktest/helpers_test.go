package zktest_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"
)

// client is a go-zookeeper connection whose state changes the test can wait for.
type client struct {
	*zk.Conn
	mu     sync.Mutex
	states []zk.State
	change chan struct{}
}

type testLogger struct{ tb testing.TB }

func (l testLogger) Printf(format string, args ...any) { l.tb.Logf("zk: "+format, args...) }

// connect opens a session through servers and waits until it is established.
func connect(t *testing.T, servers []string, timeout time.Duration) *client {
	t.Helper()
	c := &client{change: make(chan struct{})}
	conn, _, err := zk.Connect(servers, timeout,
		zk.WithLogger(testLogger{t}),
		zk.WithEventCallback(c.record))
	require.NoError(t, err)
	c.Conn = conn
	t.Cleanup(conn.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, c.waitState(ctx, zk.StateHasSession))
	return c
}

func (c *client) record(ev zk.Event) {
	if ev.Type != zk.EventSession {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.states = append(c.states, ev.State)
	close(c.change)
	c.change = make(chan struct{})
}

// waitState waits until the client has reported state since the last call
// that consumed it, and consumes every state up to it.
func (c *client) waitState(ctx context.Context, want zk.State) error {
	for {
		c.mu.Lock()
		for i, s := range c.states {
			if s == want {
				c.states = c.states[i+1:]
				c.mu.Unlock()
				return nil
			}
		}
		change := c.change
		c.mu.Unlock()
		select {
		case <-change:
		case <-ctx.Done():
			c.mu.Lock()
			defer c.mu.Unlock()
			return fmt.Errorf("waiting for %v: %w (seen %v)", want, ctx.Err(), c.states)
		}
	}
}

func (c *client) saw(want zk.State) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.states {
		if s == want {
			return true
		}
	}
	return false
}

func timeoutCtx(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// waitDeleted waits until path no longer exists, using a watch.
func waitDeleted(ctx context.Context, conn *zk.Conn, path string) error {
	for {
		ok, _, ch, err := conn.ExistsW(path)
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("%s still exists: %w", path, ctx.Err())
		}
	}
}

// writable reports whether a write through conn succeeds.
func writable(conn *zk.Conn) error {
	_, err := conn.Create("/probe-", nil, zk.FlagSequence|zk.FlagEphemeral, zk.WorldACL(zk.PermAll))
	return err
}
