package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseProcStat(t *testing.T) {
	for _, c := range []struct {
		line string
		want proc
	}{
		{"42 (sh) S 7 42 42 0 -1 4194560 93 0 0 0", proc{42, 7, 'S', 0}},
		{"9 (a b) c) Z 1 9 9", proc{9, 1, 'Z', 0}}, // COMM with a space and a ')'
		{"100 ((sd-pam)) T 99 1", proc{100, 99, 'T', 0}},
		{"5 () R 4", proc{5, 4, 'R', 0}},
		{"1234 (sleep) S 1 1234 1 0 -1 4194304 95 0 0 0 0 0 0 0 20 0 1 0 8812345 2551808 224 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0",
			proc{1234, 1, 'S', 8812345}}, // a whole line: the start time is the 22nd field
	} {
		got, err := parseStat([]byte(c.line))
		require.NoError(t, err, c.line)
		assert.Equal(t, c.want, got, c.line)
	}
	for _, bad := range []string{"", "42 sh S 7", "x (sh) S 7", "42 (sh) S", "42 (sh) S x", "42 (sh) SS 7",
		"1 (a) S 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 x"} {
		_, err := parseStat([]byte(bad))
		assert.Error(t, err, "%q", bad)
	}
}

func TestLiveDescendantsFollowParentsToTheRoot(t *testing.T) {
	procs := []proc{
		{1, 0, 'S', 0},
		{10, 1, 'S', 0},  // zkr
		{11, 10, 'S', 0}, // CMD
		{12, 11, 'S', 0}, // its child
		{13, 12, 'T', 0}, // stopped: alive
		{14, 11, 'Z', 0}, // a zombie: dead
		{15, 10, 'S', 0}, // an orphan, reparented to zkr (setsid)
		{16, 15, 'R', 0},
		{20, 1, 'S', 0}, // not ours
		{21, 20, 'S', 0},
		{30, 31, 'S', 0}, // a cycle, as pids reused mid-scan could show
		{31, 30, 'S', 0},
		{40, 99, 'S', 0}, // its parent left between the reads
	}
	assert.Equal(t, []int{11, 12, 13, 15, 16}, liveDescendants(10, procs))
	assert.Equal(t, []int{16}, liveDescendants(15, procs))
	assert.Empty(t, liveDescendants(16, procs))
	assert.Empty(t, liveDescendants(77, procs), "a root that is not listed")
}
