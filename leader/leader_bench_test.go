package leader_test

import (
	"context"
	"testing"
	"time"

	"github.com/zkrecipes/zkrecipes/leader"
	"github.com/zkrecipes/zkrecipes/recipes"
)

func benchElection(b *testing.B, servers []string, path string, opts ...recipes.Option) (*recipes.Session, *leader.Election) {
	b.Helper()
	s, err := recipes.Connect(context.Background(), servers, opts...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	e, err := leader.New(s, path)
	if err != nil {
		b.Fatal(err)
	}
	return s, e
}

// BenchmarkResignToNextLeader is the time from Resign being called to the
// next candidate's Campaign returning: one delete, one watch event, and
// (the next candidate having been second in line) no new listing.
func BenchmarkResignToNextLeader(b *testing.B) {
	ctx := context.Background()
	servers, err := cluster.DirectServers(ctx)
	if err != nil {
		b.Fatal(err)
	}
	_, e1 := benchElection(b, servers, "/bench/resign")
	_, e2 := benchElection(b, servers, "/bench/resign")
	cur, err := e1.Campaign(ctx, []byte("1"))
	if err != nil {
		b.Fatal(err)
	}
	next := e2
	for b.Loop() {
		got := make(chan *leader.Leadership, 1)
		queued := make(chan struct{})
		go func() {
			close(queued)
			l, err := next.Campaign(ctx, nil)
			if err != nil {
				b.Error(err)
			}
			got <- l
		}()
		<-queued
		b.StopTimer()
		for { // wait until the next candidate is in line
			cs, err := next.Contenders(ctx)
			if err == nil && len(cs) == 2 {
				break
			}
		}
		b.StartTimer()
		if err := cur.Resign(ctx); err != nil {
			b.Fatal(err)
		}
		l := <-got
		if l == nil {
			return
		}
		cur, next = l, map[*leader.Election]*leader.Election{e1: e2, e2: e1}[next]
	}
	cur.Resign(ctx)
}

// BenchmarkSessionLossToNextLeader is the time from the leader's network
// going silent (as when its host dies) to the next candidate leading,
// reported also in session timeouts: the server must wait out the session.
func BenchmarkSessionLossToNextLeader(b *testing.B) {
	const timeout = time.Second
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		p, err := cluster.NewProxy()
		if err != nil {
			b.Fatal(err)
		}
		_, old := benchElection(b, p.Servers(), "/bench/loss", recipes.WithSessionTimeout(timeout))
		_, next := benchElection(b, cluster.Servers(), "/bench/loss")
		l, err := old.Campaign(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		got := make(chan *leader.Leadership, 1)
		go func() {
			nl, err := next.Campaign(ctx, nil)
			if err != nil {
				b.Error(err)
			}
			got <- nl
		}()
		for {
			cs, err := next.Contenders(ctx)
			if err == nil && len(cs) == 2 {
				break
			}
		}
		b.StartTimer()
		start := time.Now()
		p.Blackhole()
		nl := <-got
		b.ReportMetric(float64(time.Since(start))/float64(timeout), "timeouts/op")
		b.StopTimer()
		<-l.Done()
		p.Heal()
		if nl != nil {
			nl.Resign(ctx)
		}
		p.Close()
		b.StartTimer()
	}
}
