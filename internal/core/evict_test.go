package core

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestRetimeKeepsTheCountThroughRequests: what restarts an enforcer's
// count (a new declaration: an Extend), what keeps it (a downgrade, a
// revocation request, the restore after it), and when a bare request
// makes the duty blind (it may hide an Extend).
func TestRetimeKeepsTheCountThroughRequests(t *testing.T) {
	t0 := time.Unix(1000, 0)
	first, now := t0, t0.Add(10*time.Second)
	decl := func(d time.Duration, n int) []byte { return declare([]byte("id"), d, n) }
	timed := evicting{name: "n", decl: "1s", version: 3, at: t0.Add(2 * time.Second)}
	tests := []struct {
		name    string
		d       evicting
		data    []byte
		version int32
		want    evicting
		ok      bool
	}{
		{"first sight: from first", evicting{}, decl(time.Second, 0), 0,
			evicting{name: "n", decl: "1s", version: 0, at: t0.Add(2 * time.Second)}, true},
		{"same declaration: the count runs on", timed, decl(time.Second, 0), 5,
			evicting{name: "n", decl: "1s", version: 5, at: timed.at}, true},
		{"a downgrade keeps the declaration", timed, declare(DowngradeMarker, time.Second, 0), 4,
			evicting{name: "n", decl: "1s", version: 4, at: timed.at}, true},
		{"an Extend: from now", timed, decl(time.Second, 1), 4,
			evicting{name: "n", decl: "1s extended=1", version: 4, at: now.Add(2 * time.Second)}, true},
		{"our request keeps the declaration", timed, RevokeRequest(decl(time.Second, 0)), 4,
			evicting{name: "n", decl: "1s", version: 4, at: timed.at}, true},
		{"a bare request, next version: the count runs on", timed, revokeMessage, 4,
			evicting{name: "n", decl: "1s", version: 4, at: timed.at}, true},
		{"a bare request further on: blind", timed, revokeMessage, 5,
			evicting{name: "n", decl: "1s", version: 5, at: timed.at, blind: true}, true},
		{"blind, then the declaration back: sees again", evicting{name: "n", decl: "1s", version: 5, at: timed.at, blind: true}, decl(time.Second, 0), 6,
			evicting{name: "n", decl: "1s", version: 6, at: timed.at}, true},
		{"a bare request first seen: no duty yet", evicting{}, revokeMessage, 4, evicting{}, false},
		{"another holder: from first", timed, decl(time.Second, 0), 0,
			evicting{name: "m", decl: "1s", version: 0, at: t0.Add(2 * time.Second)}, true},
		{"no declaration: no duty", timed, []byte("10.0.0.1"), 4, evicting{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := "n"
			if tt.want.name == "m" {
				name = "m"
			}
			got, ok := retime(tt.d, name, tt.data, tt.version, first, now)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestRevokeRequestsKeepOnlyTheDeclaration(t *testing.T) {
	for _, data := range [][]byte{nil, []byte("10.0.0.1"), []byte("zkrecipes host=h pid=1")} {
		assert.Equal(t, revokeMessage, RevokeRequest(data), "%q", data)
	}
	r := RevokeRequest(declare([]byte("zkrecipes host=h"), 5*time.Second, 2))
	assert.Equal(t, "__REVOKE__ zkrecipes-max-hold=5s extended=2", string(r))
	assert.True(t, isRevokeRequest(r))
	assert.True(t, isRevokeRequest(revokeMessage))
	assert.False(t, isRevokeRequest([]byte("__REVOKE__ ")))
	assert.False(t, isRevokeRequest(declare([]byte("id"), time.Second, 0)))
}
