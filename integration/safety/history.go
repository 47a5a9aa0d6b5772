package safety

import (
	"sync"
	"time"
)

// Kind is what a recorded event was.
type Kind int

const (
	// Hold is a trusted hold, or one stretch of it: From is when the
	// acquire returned (or the hold changed role), To when the holder
	// stopped trusting it (loss seen, release called, the process paused
	// or killed, its session expired by the nemesis).
	Hold Kind = iota
	// StoreWrite is a write to the fenced store with the holder's token.
	StoreWrite
	// GuardedWrite is an increment of a ZooKeeper register under the
	// hold's guard; OK says whether the server acknowledged it.
	GuardedWrite
)

// Event is one recorded operation.
type Event struct {
	Client   int
	Resource string // the recipe path the event belongs to: holds on different resources never conflict
	Kind     Kind
	Shared   bool // Hold: a read hold, which may overlap other shared holds; otherwise exclusive
	Limit    int  // Hold: at most this many holds of the resource may be trusted at once (a semaphore's); 0: no limit but Shared's
	Token    int64
	From, To time.Time // call and return (for Hold: trust began and ended)
	OK       bool      // StoreWrite: accepted; GuardedWrite: acknowledged
	Unknown  bool      // GuardedWrite: the reply was lost, it may have been applied
	Stale    bool      // made after the client was paused in its hold
}

// History is a concurrent-safe record of events.
type History struct {
	mu     sync.Mutex
	events []Event
}

// Add records an event.
func (h *History) Add(e Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.events = append(h.events, e)
}

// Events returns a copy of the recorded events.
func (h *History) Events() []Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Event(nil), h.events...)
}
