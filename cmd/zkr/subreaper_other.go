//go:build !linux

package main

// becomeSubreaper does nothing where there are no child subreapers: init
// reaps the orphans of CMD's descendants.
func becomeSubreaper() {}
