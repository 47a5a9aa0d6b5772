package leader_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/zkrecipes/zkrecipes/integration/zktest"
	"github.com/zkrecipes/zkrecipes/internal/testutil"
	"github.com/zkrecipes/zkrecipes/leader"
	"github.com/zkrecipes/zkrecipes/recipes"
)

// termRecord is one candidate's term as it trusted it: from Campaign
// returning until Done closed, it resigned, or it was killed.
type termRecord struct {
	token      int64
	start, end time.Time
}

// candidate campaigns again and again behind a proxy of its own, on a new
// session whenever the old one is lost.
type candidate struct {
	name  string
	proxy *zktest.Proxy

	mu      sync.Mutex
	s       *recipes.Session
	term    *leader.Leadership
	resign  chan struct{}
	killed  time.Time // set by the nemesis when it kills the session
	records []termRecord
}

// run campaigns over and over. A careless candidate trusts its term until
// it resigns or learns that its session is lost, whatever the term's Done
// says.
func (c *candidate) run(ctx context.Context, t *testing.T, path string, careless bool) {
	for ctx.Err() == nil {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		s, err := recipes.Connect(cctx, c.proxy.Servers(), recipes.WithSessionTimeout(time.Second))
		cancel()
		if err != nil {
			continue // black-holed; try again
		}
		e, err := leader.New(s, path)
		require.NoError(t, err)
		for s.Err() == nil && ctx.Err() == nil {
			l, err := e.Campaign(ctx, []byte(c.name))
			if err != nil {
				break
			}
			rec := termRecord{token: l.Token(), start: time.Now()}
			resign := make(chan struct{})
			c.mu.Lock()
			c.s, c.term, c.resign, c.killed = s, l, resign, time.Time{}
			c.mu.Unlock()
			done := l.Done()
			if careless {
				done = s.Done()
			}
			select {
			case <-done:
			case <-resign:
			case <-ctx.Done():
			}
			c.mu.Lock()
			rec.end = time.Now()
			if !c.killed.IsZero() && c.killed.Before(rec.end) {
				rec.end = c.killed // a killed process trusts nothing after its death
			}
			c.records = append(c.records, rec)
			c.term = nil
			c.mu.Unlock()
			l.Resign(context.WithoutCancel(ctx))
		}
		s.Close()
	}
}

// TestHistoryUnderFaultsHasOneTrustedLeaderAtATime runs four candidates
// while a nemesis resigns, black-holes, closes and expires whoever leads,
// records every term, and checks that no two terms overlap, that tokens
// grow in grant order, and that an observer saw every leader in order.
func TestHistoryUnderFaultsHasOneTrustedLeaderAtATime(t *testing.T) {
	h := runHistory(t, false)
	assert.Zero(t, h.overlaps, "two trusted leaders at once")
	assert.IsIncreasing(t, h.tokens, "tokens do not grow in grant order")
	assert.Equal(t, h.tokens, h.observed, "the observer did not see every leader in order")
}

// TestHistoryCheckerCatchesLeadersThatIgnoreTheirLoss is the negative
// control: candidates that keep trusting leadership while cut off, until
// they learn their session expired, still believe they lead after the
// server elected another, and the checker must see the overlap.
func TestHistoryCheckerCatchesLeadersThatIgnoreTheirLoss(t *testing.T) {
	h := runHistory(t, true)
	assert.Positive(t, h.overlaps, "the checker missed overlapping leaders")
}

type history struct {
	tokens, observed []int64
	overlaps         int
}

func runHistory(t *testing.T, careless bool) history {
	ctx := ctxFor(t, 3*time.Minute)
	path := testPath(t)
	var cands []*candidate
	for _, name := range []string{"a", "b", "c", "d"} {
		p := testutil.Proxy(t, cluster)
		cands = append(cands, &candidate{name: name, proxy: p})
	}
	obsCtx, stopObs := context.WithCancel(ctx)
	defer stopObs()
	var obsMu sync.Mutex
	var observed []int64
	obsDone := make(chan struct{})
	go func() {
		defer close(obsDone)
		for c := range election(t, session(t, nil), path).Observe(obsCtx) {
			obsMu.Lock()
			observed = append(observed, c.Token)
			obsMu.Unlock()
		}
	}()

	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, c := range cands {
		wg.Go(func() { c.run(runCtx, t, path, careless) })
	}
	faults := map[string]int{}
	var lastToken int64
	for i := range 16 {
		var cur *candidate
		require.NoError(t, waitFor(ctx, func() bool {
			for _, c := range cands {
				c.mu.Lock()
				fresh := c.term != nil && c.term.Token() != lastToken
				c.mu.Unlock()
				if fresh {
					cur = c
					return true
				}
			}
			return false
		}), "no new leader")
		cur.mu.Lock()
		s, l, resign := cur.s, cur.term, cur.resign
		lastToken = l.Token()
		cur.mu.Unlock()
		over := l.Done() // when the candidate's term is over
		if careless {
			over = s.Done()
		}
		if !careless {
			// Observe may miss a leader that comes and goes between two of
			// its reads (documented); a term here lasts until the observer
			// has reported it, however slow the machine, and the check
			// below is that it reports each one, in order.
			require.NoError(t, waitFor(ctx, func() bool {
				obsMu.Lock()
				defer obsMu.Unlock()
				return slices.Contains(observed, lastToken)
			}), "the observer never reported leader %s", cur.name)
		} else {
			// The negative control checks no observer (a leader that trusts
			// a lost term may never be reported): its terms last a while.
			time.Sleep(50 * time.Millisecond)
		}
		cur.mu.Lock()
		switch i % 4 {
		case 0:
			faults["resign"]++
			close(resign)
		case 1:
			faults["close session"]++
			cur.killed = time.Now()
			go s.Close()
		case 2:
			faults["expire session"]++
			cur.killed = time.Now()
			go cluster.ExpireSession(ctx, s.ID())
		case 3:
			faults["black hole"]++
			cur.proxy.Blackhole()
		}
		cur.mu.Unlock()
		if i%4 == 1 || i%4 == 2 {
			<-over
		}
		if i%4 == 3 {
			// The client cannot learn of the expiry while black-holed; the
			// server's expiry shows as another candidate leading.
			require.NoError(t, waitFor(ctx, func() bool {
				for _, c := range cands {
					c.mu.Lock()
					held := c.term != nil && c.term.Token() != lastToken
					c.mu.Unlock()
					if held {
						return true
					}
				}
				return false
			}), "black-holed session never expired")
			cur.proxy.Heal()
			<-over
		}
	}
	if !careless { // the term after the last fault, too, lasts until reported
		require.NoError(t, waitFor(ctx, func() bool {
			obsMu.Lock()
			defer obsMu.Unlock()
			return len(observed) > 0 && observed[len(observed)-1] > lastToken
		}), "the observer never reported the last leader")
	}
	stop()
	wg.Wait()
	// Give the observer its chance to report the last leader; a leader it
	// truly missed fails the comparison below.
	seen := func() int { obsMu.Lock(); defer obsMu.Unlock(); return len(observed) }
	recorded := 0
	for _, c := range cands {
		recorded += len(c.records)
	}
	waitCtx, cancelWait := context.WithTimeout(ctx, 5*time.Second)
	_ = waitFor(waitCtx, func() bool { return seen() >= recorded })
	cancelWait()
	stopObs()
	<-obsDone

	var terms []termRecord
	for _, c := range cands {
		terms = append(terms, c.records...)
	}
	slices.SortFunc(terms, func(a, b termRecord) int { return a.start.Compare(b.start) })
	h := history{observed: observed}
	for i, tr := range terms {
		h.tokens = append(h.tokens, tr.token)
		if i > 0 && tr.start.Before(terms[i-1].end) {
			h.overlaps++
			t.Logf("terms %d and %d overlap by %v", i-1, i, terms[i-1].end.Sub(tr.start))
		}
	}
	t.Logf("%d terms, %d overlaps, faults %v, observer saw %d leaders", len(terms), h.overlaps, faults, len(observed))
	return h
}
