package core

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTurns: Multis share their turn, a write has it alone, a write that
// waits holds back the Multis after it, and a wait ends with its ctx (a
// write that gives up lets the Multis it held back go).
func TestTurns(t *testing.T) {
	ctx, cancelAll := context.WithTimeout(context.Background(), time.Minute)
	defer cancelAll()
	var tr turns
	writeWaits := func() bool { tr.mu.Lock(); defer tr.mu.Unlock(); return tr.waiting == 1 }
	require.NoError(t, tr.take(ctx, false))
	require.NoError(t, tr.take(ctx, false), "Multis share")

	ended, cancel := context.WithCancel(ctx)
	cancel()
	assert.ErrorIs(t, tr.take(ended, true), context.Canceled, "a write waits for the Multis")

	wrote := make(chan error, 1)
	go func() { wrote <- tr.take(ctx, true) }()
	require.NoError(t, waitFor(ctx, writeWaits))
	assert.ErrorIs(t, tr.take(ended, false), context.Canceled, "a waiting write holds back a new Multi")
	tr.give(false)
	select {
	case <-wrote:
		t.Fatal("the write went before the last Multi ended")
	default:
	}
	tr.give(false)
	require.NoError(t, <-wrote)
	assert.ErrorIs(t, tr.take(ended, false), context.Canceled, "a Multi waits for the write")
	assert.ErrorIs(t, tr.take(ended, true), context.Canceled, "a write waits for the write")
	tr.give(true)

	// A write that gives up lets the Multis it held back go.
	require.NoError(t, tr.take(ctx, false))
	short, cancelShort := context.WithCancel(ctx)
	gaveUp := make(chan error, 1)
	go func() { gaveUp <- tr.take(short, true) }()
	require.NoError(t, waitFor(ctx, writeWaits))
	multi := make(chan error, 1)
	go func() { multi <- tr.take(ctx, false) }()
	require.NoError(t, waitFor(ctx, func() bool { return waitingIn("core.(*turns).take") == 2 }), "the Multi does not wait")
	cancelShort()
	assert.ErrorIs(t, <-gaveUp, context.Canceled)
	require.NoError(t, <-multi)
	tr.give(false)
	tr.give(false)
	require.NoError(t, tr.take(ended, true), "a free turn is taken even once ctx has ended")
	tr.give(true)

	var turn Turn // a mutex of write turns
	require.NoError(t, turn.Lock(ended), "a free Turn is taken even once ctx has ended")
	assert.ErrorIs(t, turn.Lock(ended), context.Canceled, "a Turn is one at a time")
	turn.Unlock()
	require.NoError(t, turn.Lock(ctx))
	turn.Unlock()
}

// waitingIn returns how many goroutines wait in fn (on their stacks).
func waitingIn(fn string) int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return strings.Count(string(buf), fn+"(")
}
