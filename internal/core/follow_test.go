package core

import (
	"fmt"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFollowersShareGoroutinesAndDeliverEveryEvent drives a NewSession
// Session's followers with watch channels of our own, as go-zookeeper
// makes them (buffered, one event, then closed), and no server: each
// event reaches its hold, a few goroutines wait for many channels, a bin
// that lost channels takes new ones before another starts, and the
// goroutines end when their channels are done or the Session closes.
func TestFollowersShareGoroutinesAndDeliverEveryEvent(t *testing.T) {
	s := newSession(Config{})
	s.state = StateConnected
	running := func() int {
		s.followers.mu.Lock()
		defer s.followers.mu.Unlock()
		return s.followers.running
	}
	// A follower counts itself out as it ends, after its last channel
	// is done, which may be just after the event it delivered.
	settle := func(want int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for running() != want && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		require.Equal(t, want, running(), "goroutines of the followers")
	}
	type watch struct {
		ch chan zk.Event
		h  *Hold
	}
	follow := func(n int) []watch {
		ws := make([]watch, n)
		for i := range ws {
			p := fmt.Sprintf("/w/%d-%d", i, time.Now().UnixNano())
			ws[i] = watch{make(chan zk.Event, 1), &Hold{path: p, events: make(chan zk.Event, 1)}}
			s.mu.Lock()
			s.nodes[p] = ws[i].h
			s.mu.Unlock()
			s.follow(ws[i].ch)
		}
		return ws
	}
	fire := func(w watch) {
		w.ch <- zk.Event{Type: zk.EventNodeDeleted, Path: w.h.path}
		close(w.ch)
	}
	told := func(w watch) {
		t.Helper()
		select {
		case ev := <-w.h.events:
			assert.Equal(t, w.h.path, ev.Path)
		case <-time.After(10 * time.Second):
			t.Fatalf("%s was not told of its event", w.h.path)
		}
	}

	ws := follow(3*binSize - 10)
	settle(3)
	// Free room in every bin; new watches fill it before a fourth starts.
	for i := 0; i < len(ws); i += 3 {
		fire(ws[i])
		told(ws[i])
	}
	more := follow(len(ws) / 3)
	settle(3)
	// A watch closed without an event (go-zookeeper's end of the
	// connection) tells nothing, and frees its place.
	for i := 1; i < len(ws); i += 3 {
		close(ws[i].ch)
	}
	for i := 2; i < len(ws); i += 3 {
		fire(ws[i])
		told(ws[i])
	}
	for _, w := range more {
		fire(w)
		told(w)
	}
	for i := 1; i < len(ws); i += 3 {
		assert.Empty(t, ws[i].h.events, "a closed watch told its hold something")
	}
	// Every channel is done: the goroutines have ended, and a new watch
	// starts one again.
	settle(0)
	s.followers.mu.Lock()
	assert.Empty(t, s.followers.roomy)
	s.followers.mu.Unlock()
	last := follow(1)
	settle(1)
	fire(last[0])
	told(last[0])
	settle(0)

	// Close stops the followers that still wait.
	follow(2 * binSize)
	settle(2)
	s.cancel(ErrSessionClosed) // as Close does: the idle goroutines end
	close(s.stop)
	s.wg.Wait()
	assert.Equal(t, 0, running())
	s.followers.mu.Lock()
	assert.Empty(t, s.followers.roomy, "a bin with no goroutine takes watches")
	s.followers.mu.Unlock()
}
