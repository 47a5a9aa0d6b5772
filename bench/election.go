package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/zkrecipes/zkrecipes/leader"
	"github.com/zkrecipes/zkrecipes/recipes"
)

// handover is one election hand-over: how long from the leader resigning
// (or closing its session) until the next candidate was told it leads.
type handover struct {
	fsync string
	impl  string
	how   string // resign or sessionClosed
	took  time.Duration
}

// How a leader gives up.
const (
	resign        = "resign"
	sessionClosed = "session closed"
)

// elections measures n hand-overs of each kind between candidates on
// sessions of their own, the next candidate always queued behind the
// leader beforehand.
func elections(ctx context.Context, mode string, servers []string, n int) ([]handover, error) {
	candidate := func() (*recipes.Session, *leader.Election, error) {
		s, err := recipes.Connect(ctx, servers)
		if err != nil {
			return nil, nil, err
		}
		e, err := leader.New(s, "/bench/election/"+mode)
		if err != nil {
			s.Close()
			return nil, nil, err
		}
		return s, e, nil
	}
	type term struct {
		s  *recipes.Session
		l  *leader.Leadership
		at time.Time // when Campaign returned
	}
	s, e, err := candidate()
	if err != nil {
		return nil, err
	}
	l, err := e.Campaign(ctx, nil)
	if err != nil {
		return nil, err
	}
	cur := term{s, l, time.Now()}
	spare := map[*recipes.Session]*leader.Election{s: e}
	defer func() {
		for s := range spare {
			s.Close()
		}
	}()
	var out []handover
	for i := range 2 * n {
		how := resign
		if i >= n {
			how = sessionClosed
		}
		// The next candidate: any session other than the leader's.
		var ns *recipes.Session
		for s := range spare {
			if s != cur.s {
				ns = s
				break
			}
		}
		if ns == nil {
			if ns, e, err = candidate(); err != nil {
				return nil, err
			}
			spare[ns] = e
		}
		got := make(chan term, 1)
		errs := make(chan error, 1)
		go func() {
			l, err := spare[ns].Campaign(ctx, nil)
			if err != nil {
				errs <- err
				return
			}
			got <- term{ns, l, time.Now()}
		}()
		for { // setup, not measured: wait until it is in line
			cs, err := spare[ns].Contenders(ctx)
			if err != nil {
				return nil, err
			}
			if len(cs) == 2 {
				break
			}
			time.Sleep(time.Millisecond)
		}
		t0 := time.Now()
		if how == resign {
			err = cur.l.Resign(ctx)
		} else {
			err = cur.s.Close()
			delete(spare, cur.s)
		}
		if err != nil {
			return nil, err
		}
		select {
		case cur = <-got:
		case err := <-errs:
			return nil, err
		case <-time.After(time.Minute):
			return nil, fmt.Errorf("no new leader a minute after %s", how)
		}
		out = append(out, handover{mode, "zkrecipes", how, cur.at.Sub(t0)})
	}
	return out, nil
}

// elections has the driver measure n hand-overs of each kind between
// candidates of its peer's election recipe (Curator's LeaderLatch, Kazoo's
// Election), each on a session of its own, the next one queued beforehand.
func (di driverImpl) elections(ctx context.Context, mode string, n int) ([]handover, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if err := di.d.Send(fmt.Sprintf("benchelect /bench/election/%s/%s %d", mode, di.name(), n)); err != nil {
		return nil, err
	}
	line, err := di.d.Expect(ctx, "elected ")
	if err != nil {
		return nil, err
	}
	// elected resign US,US,... closed US,US,...
	f := strings.Fields(line)
	if len(f) != 5 || f[1] != "resign" || f[3] != "closed" {
		return nil, fmt.Errorf("%s: bad election result %q", di.name(), line)
	}
	var out []handover
	for _, kind := range []struct{ how, list string }{{resign, f[2]}, {sessionClosed, f[4]}} {
		for _, us := range strings.Split(kind.list, ",") {
			v, err := strconv.ParseInt(us, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%s: bad election result %q", di.name(), line)
			}
			out = append(out, handover{mode, di.name(), kind.how, time.Duration(v) * time.Microsecond})
		}
	}
	return out, nil
}
