package barrier

// OnWaiting makes Wait call f each time it has set its watch on a standing
// barrier, until the returned function is called. Tests use it to learn
// that their waiters wait.
func OnWaiting(f func()) (reset func()) {
	waiting.Store(&f)
	return func() { waiting.Store(nil) }
}
