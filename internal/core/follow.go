package core

import (
	"reflect"
	"sync"

	"github.com/go-zookeeper/zk"
)

// followers wait for the watches a Session made by NewSession sets on its
// own nodes: go-zookeeper hands the event of a watch set through the
// application's connection only to the watch's channel. Rather than a
// goroutine per watch (per idle hold), each of a few goroutines waits on
// up to binSize channels at once, so that an idle hold costs a select
// case, not a goroutine. A goroutine ends once none of its channels is
// left; a later watch starts another.
type followers struct {
	mu      sync.Mutex
	roomy   []*bin // the bins with room, each at its index
	running int    // goroutines waiting on bins
}

// A bin is one goroutine's channels.
type bin struct {
	added []<-chan zk.Event // handed to the bin, not waited on yet
	n     int               // channels of the bin: waited on or added
	at    int               // index in roomy, or -1 while full
	wake  chan struct{}     // tells the goroutine of added channels
}

// binSize bounds the channels one goroutine waits on: each wake-up costs
// a pass over them all.
const binSize = 128

// follow hands the event of a watch on one of our nodes to nodeEvent. On
// a connection the Session made, onEvent does, and the watch's channel is
// left to go-zookeeper (it is buffered, and dropped once it fires); on the
// application's, a follower waits for it, until the Session closes.
func (s *Session) follow(w <-chan zk.Event) {
	if s.owned || w == nil {
		return
	}
	f := &s.followers
	f.mu.Lock()
	var b *bin
	start := len(f.roomy) == 0
	if start {
		b = &bin{wake: make(chan struct{}, 1), at: len(f.roomy)}
		f.roomy = append(f.roomy, b)
	} else {
		b = f.roomy[len(f.roomy)-1]
	}
	b.added = append(b.added, w)
	if b.n++; b.n == binSize {
		f.drop(b)
	}
	switch {
	case !start:
	case s.Go(func() { s.waitBin(b) }):
		f.running++
	case b.at >= 0:
		// The Session has ended: its holds have, and nobody waits for
		// their events.
		f.drop(b)
	}
	f.mu.Unlock()
	if !start {
		select {
		case b.wake <- struct{}{}:
		default:
		}
	}
}

// drop takes b out of roomy, with f locked.
func (f *followers) drop(b *bin) {
	last := f.roomy[len(f.roomy)-1]
	f.roomy[b.at], last.at = last, b.at
	f.roomy = f.roomy[:len(f.roomy)-1]
	b.at = -1
}

// waitBin waits for the events of b's channels and hands each to
// nodeEvent, until none is left or the Session closes. Each channel gives
// one event (go-zookeeper closes it after), or is closed without one.
func (s *Session) waitBin(b *bin) {
	f := &s.followers
	cases := []reflect.SelectCase{
		{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(s.stop)},
		{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(b.wake)},
	}
	const fixed = 2
	defer func() {
		f.mu.Lock()
		f.running--
		if b.at >= 0 { // the Session closed: no later watch joins b
			f.drop(b)
		}
		f.mu.Unlock()
	}()
	for {
		f.mu.Lock()
		for _, w := range b.added {
			cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(w)})
		}
		clear(b.added)
		b.added = b.added[:0]
		if len(cases) == fixed {
			if b.at >= 0 { // while locked: no later watch joins b
				f.drop(b)
			}
			f.mu.Unlock()
			return
		}
		f.mu.Unlock()
		i, v, ok := reflect.Select(cases)
		switch i {
		case 0:
			return
		case 1:
			continue
		}
		last := len(cases) - 1
		cases[i], cases[last] = cases[last], reflect.SelectCase{}
		cases = cases[:last]
		f.mu.Lock()
		if b.n--; b.at < 0 {
			b.at = len(f.roomy)
			f.roomy = append(f.roomy, b)
		}
		f.mu.Unlock()
		if ok {
			s.nodeEvent(v.Interface().(zk.Event))
		}
	}
}
