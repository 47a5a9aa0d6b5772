package core

import (
	"bytes"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/internal/testutil/stacks"
)

// TestGoKeepsGoroutinesForTheNextFunction runs Session.Go without a
// server: a function after another runs on the goroutine that ran the
// first, no more than maxIdle goroutines wait once a burst is over, they
// all end with the session, and an ended session runs nothing.
func TestGoKeepsGoroutinesForTheNextFunction(t *testing.T) {
	s := newSession(Config{})
	s.state = StateConnected
	eventually := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
			require.True(t, time.Now().Before(deadline), what)
		}
	}
	ran := func() string {
		got := make(chan string, 1)
		require.True(t, s.Go(func() { got <- goroutineID() }))
		return <-got
	}

	first := ran()
	// Counted among the idle is not yet waiting: wait for its select.
	eventually("the goroutine waits for the next function", func() bool { return waitsInWork(first) })
	assert.Equal(t, first, ran(), "the next function ran on a goroutine of its own")

	// A burst wider than maxIdle: the goroutines it leaves beyond that end.
	var started, done sync.WaitGroup
	release := make(chan struct{})
	for range 3 * maxIdle {
		started.Add(1)
		done.Add(1)
		require.True(t, s.Go(func() { started.Done(); <-release; done.Done() }))
	}
	started.Wait()
	assert.GreaterOrEqual(t, workers(), 3*maxIdle)
	close(release)
	done.Wait()
	eventually("no more than maxIdle goroutines are left", func() bool { return workers() == maxIdle })
	assert.EqualValues(t, maxIdle, s.idlers.Load())

	// The session's end ends them (Close waits for them).
	s.mu.Lock()
	s.terminate(StateClosed, ErrSessionClosed)
	s.mu.Unlock()
	waited := make(chan struct{})
	go func() { s.wg.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(10 * time.Second):
		t.Fatal("the idle goroutines outlived the session")
	}
	assert.Zero(t, workers())
	assert.False(t, s.Go(func() { t.Error("ran after the session ended") }))
}

// goroutineID returns the calling goroutine's number, from its stack's
// header ("goroutine 7 [running]:").
func goroutineID() string {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	id, _, _ := bytes.Cut(bytes.TrimPrefix(buf, []byte("goroutine ")), []byte(" "))
	return string(id)
}

// workers counts the goroutines in Session.work, running a function or
// waiting for one.
func workers() int {
	n := 0
	for _, g := range stacks.All() {
		if strings.Contains(g, "core.(*Session).work(") {
			n++
		}
	}
	return n
}

// waitsInWork reports whether goroutine id waits in Session.work's select
// for the next function.
func waitsInWork(id string) bool {
	for _, g := range stacks.All() {
		if strings.HasPrefix(g, "goroutine "+id+" [select") {
			return strings.Contains(g, "core.(*Session).work(")
		}
	}
	return false
}
