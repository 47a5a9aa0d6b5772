package zktest

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestFreezeGaveUpIsRuncsFreezerGivingUpOnly(t *testing.T) {
	for _, tc := range []struct {
		err  string
		want bool
	}{
		// What the engine answered when a CI run's pause failed.
		{"Error response from daemon: Cannot pause container 9e6c: OCI runtime pause failed: unable to freeze: unknown", true},
		{"Error response from daemon: container 9e6c is not running", false},
		{"Error response from daemon: Container 9e6c is already paused", false},
		{"context deadline exceeded", false},
	} {
		assert.Equal(t, tc.want, freezeGaveUp(errors.New(tc.err)), tc.err)
	}
}
