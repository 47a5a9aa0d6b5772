package rwlock

import "time"

// SetResolveTimeout shortens how long Downgrade works to learn an unknown
// outcome, for a test; the returned func restores it.
func SetResolveTimeout(d time.Duration) (restore func()) {
	old := resolveTimeout
	resolveTimeout = d
	return func() { resolveTimeout = old }
}
