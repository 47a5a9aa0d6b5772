package core

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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

// TestRetimeEachHolderWeWatch: a writer waits behind two read holds that
// both declare a max hold, and so watches and times both. One of them
// extends: it is timed anew, from then, even while the other is the one
// due first; and once the other goes, the one left keeps its own timing
// (its clock from when the writer first saw it hold, or its Extend's).
// Before, only the holder due first kept its timing, and the other was
// timed from scratch with its old clock: one that had extended was
// evicted before its new deadline.
func TestRetimeEachHolderWeWatch(t *testing.T) {
	nodes := []Node{{Name: "r1", Role: Shared}, {Name: "r2", Role: Shared}, {Name: "w", Role: Exclusive}}
	for _, extend := range []bool{false, true} {
		w := &waiter{q: &Queue{rule: ReadWriteBlocks}, name: "w", at: places{second: 0, pred: 1, me: 2}}
		declared := declare([]byte("identity"), 2*time.Second, 0)
		w.second = watched{name: "r1", data: declared}
		w.pred = watched{name: "r2", data: declared}
		before := time.Now()
		w.duty(nodes)
		first := w.evict
		require.Equal(t, "r1", first.name, "both due together: the one nearer the head first")
		require.False(t, first.at.Before(before.Add(2*time.Second+EvictionMargin)))
		want := first.at // r2 was first seen holding with r1
		if extend {
			w.pred = watched{name: "r2", data: declare([]byte("identity"), 10*time.Second, 1), version: 1}
			extendedAt := time.Now()
			w.duty(nodes)
			require.Equal(t, first, w.evict, "r1 is still due first")
			want = extendedAt.Add(10*time.Second + EvictionMargin)
		}
		w.second = watched{} // r1 released
		w.lead(true, true)
		assert.Equal(t, "r2", w.evict.name)
		assert.False(t, w.evict.at.Before(want), "extend %v: r2 due at %v, before %v", extend, w.evict.at, want)
		if !extend {
			assert.Equal(t, want, w.evict.at, "the clock restarted")
		}
	}
}
