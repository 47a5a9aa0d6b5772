package main

import (
	"context"
	"fmt"
	"time"

	"github.com/zkrecipes/zkrecipes/leader"
	"github.com/zkrecipes/zkrecipes/recipes"
)

// handover is one election hand-over: how long from the leader resigning
// (or closing its session) until the next candidate's Campaign returned.
type handover struct {
	fsync string
	how   string // "resign" or "session closed"
	took  time.Duration
}

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
		how := "resign"
		if i >= n {
			how = "session closed"
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
		if how == "resign" {
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
		out = append(out, handover{mode, how, cur.at.Sub(t0)})
	}
	return out, nil
}
