package main

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/internal/testutil"
	"github.com/zkrecipes/zkrecipes/recipes"
)

// lostHold is a hold that the test loses when it likes.
type lostHold struct{ done chan struct{} }

func (h *lostHold) Done() <-chan struct{} { return h.done }
func (h *lostHold) Path() string          { return "/test/lost" }
func (h *lostHold) Token() int64          { return 1 }
func (h *lostHold) Err() error {
	select {
	case <-h.done:
		return recipes.ErrSuspended
	default:
		return nil
	}
}

// TestALostHoldStopsCMDWithinItsLossGrace: CMD ignores SIGTERM, and
// --grace is a minute, but the hold is lost: the lock may pass to the
// next holder a third of a session timeout after that, so zkr SIGKILLs
// CMD by then, not a minute later, and exits with the loss's code.
func TestALostHoldStopsCMDWithinItsLossGrace(t *testing.T) {
	ready := filepath.Join(t.TempDir(), "ready")
	h := &lostHold{done: make(chan struct{})}
	c := command{
		args:      []string{"sh", "-c", `trap "" TERM; touch "$0"; exec sleep 120`, ready},
		grace:     time.Minute,
		stderr:    io.Discard,
		lossGrace: 300 * time.Millisecond,
	}
	result := make(chan error, 1)
	go func() { result <- runUnder(context.Background(), h, nil, c) }()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, testutil.WaitFor(ctx, func() bool { _, err := os.Stat(ready); return err == nil }), "CMD did not start")
	lost := time.Now()
	close(h.done)
	select {
	case err := <-result:
		var e exitErr
		require.True(t, errors.As(err, &e), "%v", err)
		assert.Equal(t, exitLost, e.code)
		assert.Less(t, time.Since(lost), 20*time.Second, "CMD was given its whole --grace after the loss")
	case <-ctx.Done():
		t.Fatal("CMD was given its whole --grace after the loss")
	}
}
