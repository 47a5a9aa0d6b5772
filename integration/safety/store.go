package safety

import "sync"

// Store is the external system a lock protects, standing in for a database
// or a file server. When fenced, it refuses a write whose token is lower
// than the highest it has accepted; unfenced, it accepts everything, as a
// store that does not check tokens would.
type Store struct {
	fenced bool

	mu  sync.Mutex
	max int64
}

// NewStore returns a store that checks tokens if fenced is true.
func NewStore(fenced bool) *Store { return &Store{fenced: fenced} }

// Write applies a write made under token and reports whether it was
// accepted.
func (s *Store) Write(token int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fenced && token < s.max {
		return false
	}
	s.max = max(s.max, token)
	return true
}
