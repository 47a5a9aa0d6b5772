package barrier

import (
	"testing"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
)

// TestAWatchThatFiredIsNotReusedBeforeItsGoroutineRan: go-zookeeper has
// delivered the removed barrier's deletion, but the goroutine that passes
// it on has not run yet. A Wait that comes next (after a Remove and a Set
// on the same Session) must not take that watch for the standing
// barrier's: pending takes the event itself. Before, only the goroutine
// closed fired, and such a Wait waited on the removed barrier's watch and
// returned while the new one stood.
func TestAWatchThatFiredIsNotReusedBeforeItsGoroutineRan(t *testing.T) {
	watch := make(chan zk.Event, 1)
	a := &armed{watch: watch, fired: make(chan struct{})}
	assert.True(t, a.pending(), "a watch that has not fired")
	watch <- zk.Event{Type: zk.EventNodeDeleted}
	assert.False(t, a.pending(), "a watch whose event go-zookeeper delivered")
	assert.Equal(t, zk.EventNodeDeleted, a.ev.Type)
	select {
	case <-a.fired:
	default:
		t.Fatal("fired is open")
	}
	a.fire(zk.Event{Type: zk.EventNotWatching}) // the goroutine, late
	assert.Equal(t, zk.EventNodeDeleted, a.ev.Type, "the event was replaced")
}
