package integration_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/integration/interop"
	"github.com/zkrecipes/zkrecipes/lock"
	"github.com/zkrecipes/zkrecipes/recipes"
)

// TestCuratorMutexAndOursExcludeEachOther runs Curator's InterProcessMutex
// in a real Java process on the same path as our mutex: each waits for the
// other, they queue in one line, and fencing tokens keep growing across
// both.
func TestCuratorMutexAndOursExcludeEachOther(t *testing.T) {
	ctx := ctxFor(t, 2*time.Minute)
	const path = "/interop/curator-mutex"
	java := interop.StartCurator(t, cluster.ConnectString())
	m, err := lock.New(session(t), path)
	require.NoError(t, err)

	// Go holds; Curator queues behind and must not get it.
	ours, err := m.Lock(ctx)
	require.NoError(t, err)
	java.Send("lock " + path)
	waitContenders(t, ctx, m, 2)
	select {
	case line := <-java.Lines():
		t.Fatalf("Curator acquired while we hold: %q", line)
	default:
	}
	require.NoError(t, ours.Unlock(ctx))

	// Released: Curator gets it, with a later token.
	line, err := java.Expect(ctx, "locked "+path)
	require.NoError(t, err)
	javaToken := lastInt(t, line)
	assert.Greater(t, javaToken, ours.Token())

	// Curator holds; our TryLock is refused and our Lock waits for it.
	_, err = m.TryLock(ctx)
	assert.ErrorIs(t, err, lock.ErrLocked)
	got := make(chan *lock.Hold, 1)
	go func() {
		h, err := m.Lock(ctx)
		assert.NoError(t, err)
		got <- h
	}()
	waitContenders(t, ctx, m, 2)
	select {
	case <-got:
		t.Fatal("we acquired while Curator holds")
	default:
	}
	java.Send("unlock " + path)
	_, err = java.Expect(ctx, "unlocked "+path)
	require.NoError(t, err)
	h := <-got
	require.NotNil(t, h)
	assert.Greater(t, h.Token(), javaToken)
	require.NoError(t, h.Unlock(ctx))

	cs, err := m.Contenders(ctx)
	require.NoError(t, err)
	assert.Empty(t, cs)
}

func lastInt(t *testing.T, line string) int64 {
	t.Helper()
	f := strings.Fields(line)
	n, err := strconv.ParseInt(f[len(f)-1], 10, 64)
	require.NoError(t, err, "line %q", line)
	return n
}

// waitContenders waits until the mutex has n contenders.
func waitContenders(t *testing.T, ctx context.Context, m *lock.Mutex, n int) {
	t.Helper()
	for {
		cs, err := m.Contenders(ctx)
		if err == nil && len(cs) == n {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("want %d contenders, have %d (%v)", n, len(cs), err)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestCuratorAndGoIncrementOneCounterExactly has a Java process and Go
// sessions increment one counter with read-sleep-write under the same lock
// at the same time: without mutual exclusion across clients, updates are
// lost.
func TestCuratorAndGoIncrementOneCounterExactly(t *testing.T) {
	const path, counter = "/interop/curator-counter-lock", "/interop-curator-counter"
	const javaRounds, goSessions, goRounds = 40, 3, 15
	ctx := ctxFor(t, 2*time.Minute)
	s := session(t)
	_, err := s.Conn().Create(counter, []byte("0"), 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
	t.Cleanup(func() { s.Conn().Delete(counter, -1) })

	java := interop.StartCurator(t, cluster.ConnectString())
	java.Send(fmt.Sprintf("incr %s %s %d", path, counter, javaRounds))
	var wg sync.WaitGroup
	for range goSessions {
		gs := session(t)
		m, err := lock.New(gs, path)
		require.NoError(t, err)
		wg.Go(func() {
			for range goRounds {
				if !assert.NoError(t, incrementUnder(ctx, gs, m, counter)) {
					return
				}
			}
		})
	}
	wg.Wait()
	_, err = java.Expect(ctx, "incremented "+counter)
	require.NoError(t, err)
	data, _, err := s.Conn().Get(counter)
	require.NoError(t, err)
	assert.Equal(t, strconv.Itoa(javaRounds+goSessions*goRounds), string(data), "lost updates")
}

func incrementUnder(ctx context.Context, s *recipes.Session, m *lock.Mutex, counter string) error {
	h, err := m.Lock(ctx)
	if err != nil {
		return err
	}
	defer h.Unlock(ctx)
	data, _, err := s.Conn().Get(counter)
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(string(data))
	if err != nil {
		return err
	}
	time.Sleep(time.Millisecond) // widen the window a lost update needs
	_, err = s.Conn().Set(counter, []byte(strconv.Itoa(n+1)), -1)
	return err
}
