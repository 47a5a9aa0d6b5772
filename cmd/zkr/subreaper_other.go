//go:build !linux

package main

import (
	"syscall"
	"time"
)

// becomeSubreaper does nothing where there are no child subreapers: init
// reaps the orphans of CMD's descendants.
func becomeSubreaper() {}

// pollInterval is how often zkr looks whether CMD's process group is gone
// once CMD has exited: a member's leaving or ending sends zkr no signal
// unless it is zkr's child.
const pollInterval = 10 * time.Millisecond

// remaining returns what zkr waits for and signals: CMD's process group
// (as kill(2) names it, minus its id) while any process of it is left,
// zombies included. A process that leaves the group (setsid) is not
// followed: without a child subreaper, zkr cannot know its descendants.
func (g *group) remaining() []int { return g.groupRemaining() }

// signal sends sig to every process that remains, and returns
// them.
func (g *group) signal(sig syscall.Signal) []int { return g.signalGroup(sig) }
